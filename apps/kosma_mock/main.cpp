// kosma_mock: a stand-in for the KOSMA-tau executables (pdr, onion, getctrlind, mrt), chosen by
// the name it is started under. It answers --version like the real code, reads the rendered
// inputs in its working directory, writes the output files the real code writes, and can be told
// to take time, fail, crash or hang for chosen grid points:
//
//   PDR_MOCK_PLAN="<glob>:<action>[;<glob>:<action>...]"   matched against PDR_JOB_NAME
//     actions: sleep=SECONDS  fail[=CODE]  crash  hang  no-output  onion-fail[=CODE]
//              onion-sleep=SECONDS (the onion step sleeps; pdr's sleep= is pdr's)
//              hang-with-child (hang, with a child that hangs too and traces "child")
//              daemon (pdr leaves a process in a session of its own that writes Out/daemon.out
//              into its directory 1 s later)  daemon-away (the same, but the process moves to /
//              and holds the directory open instead)  daemon-bare (the same from a shell with
//              an empty environment, staying in the directory)  daemon-path (the same from a
//              shell with an empty environment in /, writing by the directory's absolute path)
//              daemon-log (the same from a shell with an empty environment in /, writing a line
//              to the standard output it inherited, the step's log, once its directory has
//              gone (renamed or removed; 10 s at most))
//              need=NAME (pdr fails with 6 unless pdrinpdata/NAME is in its directory)
//              fill (pdr fills the disk of its directory with Out/fill.dat and ends well)
//              symlink-output (pdr's pdrout.hdf is a link to pdrout_real.hdf, by absolute path)
//              lock-out (pdr takes the write permission from Out/ and Out/locked/)
//              litter (pdr leaves extra files in its directory)  relink (pdr replaces its link
//              pdrinpdata/chem_rates.dat by a file); pdr fails with 4 when it starts amid either
//   PDR_MOCK_TRACE=FILE   append "start|end|child <job> <epoch ms> <pid>" lines (for tests); a
//                         start line ends with the working directory
#include <fcntl.h>
#include <fnmatch.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

// Forks a process in a session of its own: true in it, false here once it has left this
// process's group (so that the group's end cannot catch it on the way). With `Exec::Follows`,
// false only once it has replaced itself with another program (its execve closes the pipe):
// until then it still has this process's environment, and a scan for the attempt's processes
// rightly finds it.
enum class Exec { None, Follows };
bool fork_detached(Exec exec = Exec::None) {
  int ready[2];
  if (pipe(ready) != 0) return false;
  if (fork() == 0) {
    close(ready[0]);
    setsid();
    if (exec == Exec::Follows) {
      fcntl(ready[1], F_SETFD, FD_CLOEXEC);
    } else {
      close(ready[1]);
    }
    return true;
  }
  close(ready[1]);
  char c;
  while (read(ready[0], &c, 1) < 0 && errno == EINTR) {}
  close(ready[0]);
  return false;
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string read_file(const std::string& path, bool* ok) {
  std::ifstream in(path, std::ios::binary);
  *ok = static_cast<bool>(in);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  return static_cast<bool>(out);
}

void trace(const std::string& what) {
  const std::string path = env("PDR_MOCK_TRACE");
  if (path.empty()) return;
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  const std::string job = env("PDR_JOB_NAME").empty() ? "-" : env("PDR_JOB_NAME");
  std::string line = what + " " + job + " " + std::to_string(ms) + " " + std::to_string(getpid());
  if (what == "start") {
    char cwd[4096];
    // The directory by inode and birth time: the same after a rename, another when removed and
    // made again (which may get the same inode).
    struct statx here;
    if (getcwd(cwd, sizeof cwd) != nullptr && statx(AT_FDCWD, ".", 0, STATX_INO | STATX_BTIME, &here) == 0) {
      line += std::string(" ") + cwd + " " + std::to_string(here.stx_ino) + ":" +
              std::to_string(here.stx_btime.tv_sec) + "." + std::to_string(here.stx_btime.tv_nsec);
    }
  }
  line += "\n";
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd >= 0) {
    ssize_t n = write(fd, line.data(), line.size());
    (void)n;
    close(fd);
  }
}

struct Rule {
  std::string pattern, action, arg;
};

std::vector<Rule> matching_rules() {
  std::vector<Rule> rules;
  const std::string job = env("PDR_JOB_NAME");
  std::stringstream plan(env("PDR_MOCK_PLAN"));
  for (std::string item; std::getline(plan, item, ';');) {
    const auto colon = item.rfind(':');
    if (colon == std::string::npos) continue;
    Rule r;
    r.pattern = item.substr(0, colon);
    std::string action = item.substr(colon + 1);
    const auto eq = action.find('=');
    r.action = action.substr(0, eq);
    if (eq != std::string::npos) r.arg = action.substr(eq + 1);
    if (fnmatch(r.pattern.c_str(), job.c_str(), 0) == 0) rules.push_back(r);
  }
  return rules;
}

// Applies the rules of this role; returns an exit code to stop with, or -1 to go on.
int apply_rules(const std::vector<Rule>& rules, bool onion) {
  for (const auto& r : rules) {
    if ((r.action == "sleep" && !onion) || (r.action == "onion-sleep" && onion)) {
      std::this_thread::sleep_for(std::chrono::duration<double>(std::atof(r.arg.c_str())));
    } else if ((r.action == "hang" || r.action == "hang-with-child") && !onion) {
      if (r.action == "hang-with-child" && fork() == 0) {
        trace("child");  // in this program's group, in its directory
        for (;;) pause();
      }
      std::cout << "mock: hanging as requested" << std::endl;
      for (;;) pause();
    } else if (r.action == "crash" && !onion) {
      std::cout << "mock: crashing as requested" << std::endl;
      signal(SIGSEGV, SIG_DFL);
      raise(SIGSEGV);
    } else if ((r.action == "fail" && !onion) || (r.action == "onion-fail" && onion)) {
      std::cout << "mock: failure requested for " << env("PDR_JOB_NAME") << std::endl;
      return r.arg.empty() ? 3 : std::atoi(r.arg.c_str());
    }
  }
  return -1;
}

// What "litter" and "relink" leave behind, found at the start of a pdr step: "" when clean.
std::string left_behind() {
  struct stat sb;
  for (const char* f : {"litter.txt", "Out/litter.out", "pdroutput/litter.dat", "litterdir"}) {
    if (lstat(f, &sb) == 0) return f;
  }
  if (lstat("pdrinpdata/chem_rates.dat", &sb) == 0 && !S_ISLNK(sb.st_mode)) return "pdrinpdata/chem_rates.dat (a file)";
  return "";
}

int run_pdr(const std::vector<Rule>& rules) {
  if (const std::string found = left_behind(); !found.empty()) {
    std::cout << "mock pdr: an earlier job's " << found << " is in this directory" << std::endl;
    return 4;
  }
  for (const auto& r : rules) {
    struct stat sb;
    if (r.action == "need" && lstat(("pdrinpdata/" + r.arg).c_str(), &sb) != 0) {
      std::cout << "mock pdr: pdrinpdata/" << r.arg << " is missing" << std::endl;
      return 6;
    }
  }
  bool ok_json = false, ok_inp = false, ok_chem = false;
  const std::string json = read_file("pdr_config.json", &ok_json);
  const std::string inp = read_file("PDRNEW.INP", &ok_inp);
  read_file("pdrinpdata/chem_rates.dat", &ok_chem);
  if (!ok_json) {
    std::cout << "mock pdr: cannot read pdr_config.json" << std::endl;
    return 2;
  }
  if (!ok_chem) {
    std::cout << "mock pdr: cannot read pdrinpdata/chem_rates.dat" << std::endl;
    return 2;
  }
  if (json.find("KT_VAR") != std::string::npos || inp.find("KT_VAR") != std::string::npos) {
    std::cout << "mock pdr: unfilled placeholder in the inputs" << std::endl;
    return 2;
  }
  std::cout << "mock pdr: read " << json.size() << " bytes of pdr_config.json and " << inp.size()
            << " bytes of PDRNEW.INP for " << env("PDR_JOB_NAME") << std::endl;
  const int code = apply_rules(rules, false);
  if (code >= 0) return code;
  for (const auto& r : rules) {
    if (r.action == "no-output") return 0;
  }
  const std::string stamp = "job " + env("PDR_JOB_NAME") + "\n" + json;
  bool ok = write_file("pdroutput/pdrout.hdf", "HDF4 mock\n" + stamp) &&
            write_file("pdroutput/pdrstruct_s.hdf5", "HDF5 structure mock\n" + stamp) &&
            write_file("pdroutput/pdrchem_c.hdf5", "HDF5 chemistry mock\n" + stamp) &&
            write_file("pdroutput/chemchk.out", "chemistry check mock\n") &&
            write_file("pdroutput/CTRL_IND", "1 1 1\n") && write_file("Out/mock.out", "MRT mock\n" + stamp);
  if (!ok) {
    std::cout << "mock pdr: cannot write outputs" << std::endl;
    return 2;
  }
  for (const auto& r : rules) {
    if (r.action == "lock-out") {
      // Out/ and a directory of its own without write permission.
      mkdir("Out/locked", 0755);
      write_file("Out/locked/x", "x\n");
      chmod("Out/locked", 0555);
      chmod("Out", 0555);
    } else if (r.action == "symlink-output") {
      // pdrout.hdf becomes a link, by absolute path, to the file under another name.
      char cwd[4096];
      if (getcwd(cwd, sizeof cwd) == nullptr || rename("pdroutput/pdrout.hdf", "pdroutput/pdrout_real.hdf") != 0 ||
          symlink((std::string(cwd) + "/pdroutput/pdrout_real.hdf").c_str(), "pdroutput/pdrout.hdf") != 0) {
        return 2;
      }
    } else if (r.action == "fill") {
      // Fills the disk of its directory, then ends well: the next step finds no space.
      const int fd = open("Out/fill.dat", O_WRONLY | O_CREAT | O_TRUNC, 0644);
      const std::string block(65536, 'x');
      while (fd >= 0 && write(fd, block.data(), block.size()) > 0) {}
      if (fd >= 0) close(fd);
    } else if (r.action == "litter") {
      mkdir("litterdir", 0755);
      write_file("litterdir/x", "x\n");
      write_file("litter.txt", "x\n");
      write_file("Out/litter.out", "x\n");
      write_file("pdroutput/litter.dat", "x\n");
    } else if (r.action == "daemon-bare") {
      if (fork_detached(Exec::Follows)) {
        char* const argv[] = {const_cast<char*>("sh"), const_cast<char*>("-c"),
                              const_cast<char*>("sleep 1; echo bare > Out/daemon.out"), nullptr};
        char* const no_env[] = {nullptr};
        execve("/bin/sh", argv, no_env);
        _exit(1);
      }
    } else if (r.action == "daemon-log") {
      if (fork_detached(Exec::Follows)) {
        char* const argv[] = {
            const_cast<char*>("sh"), const_cast<char*>("-c"),
            const_cast<char*>("d=$(pwd); cd /; i=0; while [ -e \"$d\" ] && [ $i -lt 100 ]; "
                              "do sleep 0.1; i=$((i + 1)); done; echo a late line of a stray process"),
            nullptr};
        char* const no_env[] = {nullptr};
        execve("/bin/sh", argv, no_env);
        _exit(1);
      }
    } else if (r.action == "daemon-path") {
      char cwd[4096];
      if (getcwd(cwd, sizeof cwd) != nullptr && fork_detached(Exec::Follows)) {
        const std::string script =
            "exec </dev/null >/dev/null 2>&1; cd /; sleep 1; echo path >> '" + std::string(cwd) + "/Out/daemon.out'";
        char* const argv[] = {const_cast<char*>("sh"), const_cast<char*>("-c"), const_cast<char*>(script.c_str()),
                              nullptr};
        char* const no_env[] = {nullptr};
        execve("/bin/sh", argv, no_env);
        _exit(1);
      }
    } else if (r.action == "daemon" || r.action == "daemon-away") {
      if (fork_detached()) {
        const int dir = open(".", O_RDONLY | O_DIRECTORY);
        if (r.action == "daemon-away" && chdir("/") != 0) _exit(1);
        std::this_thread::sleep_for(std::chrono::seconds(1));
        const std::string text = "job " + env("PDR_JOB_NAME") + "\n";
        const int fd = openat(dir, "Out/daemon.out", O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0 && write(fd, text.data(), text.size()) < 0) _exit(1);
        _exit(0);
      }
    } else if (r.action == "relink") {
      bool read = false;
      const std::string chem = read_file("pdrinpdata/chem_rates.dat", &read);
      unlink("pdrinpdata/chem_rates.dat");
      write_file("pdrinpdata/chem_rates.dat", chem);
    }
  }
  std::cout << "mock pdr: done" << std::endl;
  return 0;
}

int run_onion(const std::vector<Rule>& rules, int argc, char** argv) {
  bool ok_struct = false, ok_inp = false;
  if (argc < 2) {
    std::cout << "mock onion: usage: onion <pdrstruct_s.hdf5>" << std::endl;
    return 2;
  }
  read_file(argv[1], &ok_struct);
  const std::string inp = read_file("ONION3.INP", &ok_inp);
  if (!ok_struct || !ok_inp) {
    std::cout << "mock onion: missing " << (ok_struct ? "ONION3.INP" : argv[1]) << std::endl;
    return 2;
  }
  std::string species = inp.substr(0, inp.find('\n'));
  std::cout << "mock onion: species " << species << std::endl;
  const int code = apply_rules(rules, true);
  if (code >= 0) return code;
  for (const char* f : {"jerg_", "jtemp_"})
    write_file("onionoutput/" + std::string(f) + species + ".smli", species + "\n");
  write_file("onionoutput/linebt_" + species + ".out", species + "\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string self = argv[0];
  const std::string name = self.substr(self.find_last_of('/') + 1);
  if (argc > 1 && std::strcmp(argv[1], "--version") == 0) {
    trace("version");
    std::cout << "KOSMA-tau mock (" << name << ")\nrevision: mock-1.0\nBinary compiled the Feb 11 2025 at 11:01:00\n";
    return 0;
  }
  const std::vector<Rule> rules = matching_rules();
  trace("start");
  int rc = 0;
  if (name.find("onion") != std::string::npos) {
    rc = run_onion(rules, argc, argv);
  } else if (name.find("getctrlind") != std::string::npos || name.find("mrt") != std::string::npos) {
    std::cout << "mock " << name << ": nothing to do" << std::endl;
  } else {
    rc = run_pdr(rules);
  }
  trace("end");
  return rc;
}
