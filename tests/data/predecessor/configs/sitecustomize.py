# Test-harness shim (not part of pdr_run): only active when PDR_SHIM=1.
#  - redirects mysql+mysqlconnector:// URLs to mysql+pymysql:// (Debian has no mysql-connector-python)
#  - with PDR_SQL_LOG=FILE: engine echo=True, the 'sqlalchemy.engine.Engine' log goes to FILE only
import os
if os.environ.get("PDR_SHIM") == "1":
    import logging
    import sqlalchemy
    import sqlalchemy.engine
    _orig_create_engine = sqlalchemy.create_engine

    def create_engine(url, *args, **kwargs):
        if isinstance(url, str) and url.startswith("mysql+mysqlconnector://"):
            url = "mysql+pymysql://" + url[len("mysql+mysqlconnector://"):]
        log_file = os.environ.get("PDR_SQL_LOG")
        if log_file:
            lg = logging.getLogger("sqlalchemy.engine.Engine")
            if not any(getattr(h, "_pdr_shim", False) for h in lg.handlers):
                h = logging.FileHandler(log_file, mode="a")
                h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
                h._pdr_shim = True
                lg.addHandler(h)
            lg.propagate = False
            lg.disabled = False
            kwargs["echo"] = True
        return _orig_create_engine(url, *args, **kwargs)

    sqlalchemy.create_engine = create_engine
    sqlalchemy.engine.create_engine = create_engine
