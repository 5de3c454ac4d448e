// prepare_job_plan: everything a job needs, checked once before anything is written.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "pdr/job.h"
#include "pdr/process.h"
#include "pdr/sha256.h"
#include "pdr/template.h"
#include "util/file.h"

namespace fs = std::filesystem;

namespace pdr {
namespace {

struct VersionInfo {
  std::string revision = "unknown_revision";
  std::string compilation_date;  // "YYYY-MM-DD HH:MM:SS" or empty
};

VersionInfo executable_version(const std::string& exe, const std::vector<std::string>& env) {
  VersionInfo info;
  std::string text;
  const bool ok = run_captured(exe, {exe, "--version"}, env, 10, &text, fs::path(exe).parent_path().string());
  if (!ok && text.rfind("timed out", 0) == 0) {
    info.revision = "command_timeout";
    return info;
  }
  if (!ok) {
    info.revision = "error_getting_revision";
    return info;
  }
  std::istringstream in(text);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (line.find_first_not_of(" \t\r") != std::string::npos) lines.push_back(line);
  }
  for (const auto& line : lines) {
    auto p = line.find("revision:");
    if (p != std::string::npos) {
      std::string v = line.substr(p + 9);
      v.erase(0, v.find_first_not_of(" \t"));
      v.erase(v.find_last_not_of(" \t\r") + 1);
      if (!v.empty()) info.revision = v.substr(0, 50);
      break;
    }
  }
  if (!lines.empty()) {
    const std::string& last = lines.back();
    auto p = last.find("compiled the ");
    if (p != std::string::npos) {
      std::tm tm{};
      const char* end = strptime(last.c_str() + p + 13, "%b %d %Y at %H:%M:%S", &tm);
      if (end != nullptr) {
        char out[32];
        std::strftime(out, sizeof out, "%Y-%m-%d %H:%M:%S", &tm);
        info.compilation_date = out;
      }
    }
  }
  return info;
}

Result<std::string> find_template(const std::string& base, const std::string& name) {
  for (const char* dir : {"templates", "pdrinpdata/templates", "."}) {
    fs::path p = fs::path(base) / dir / name;
    if (fs::is_regular_file(p)) return p.lexically_normal().string();
  }
  return Status::Usage(name + ": template not found in " + base + "/templates, " + base + "/pdrinpdata/templates or " +
                       base);
}

Status require_file(const std::string& path, const std::string& what, bool executable) {
  struct stat sb;
  if (::stat(path.c_str(), &sb) != 0) return Status::Usage(what + ": " + path + " does not exist");
  if (!S_ISREG(sb.st_mode)) return Status::Usage(what + ": " + path + " is not a file");
  if (executable && access(path.c_str(), X_OK) != 0) return Status::Usage(what + ": " + path + " is not executable");
  return Status::Ok();
}

// The executables, the chemistry file and the onion input of every species.
Status check_base_dir(const Settings& settings) {
  const PdrSettings& p = settings.pdr;
  if (!fs::is_directory(p.base_dir)) return Status::Usage("pdr.base_dir: " + p.base_dir + " is not a directory");
  const std::pair<const char*, const std::string*> exes[] = {{"pdr.pdr_file_name", &p.pdr_file_name},
                                                             {"pdr.onion_file_name", &p.onion_file_name},
                                                             {"pdr.getctrlind_file_name", &p.getctrlind_file_name},
                                                             {"pdr.mrt_file_name", &p.mrt_file_name}};
  for (const auto& e : exes) {
    if (Status st = require_file(p.base_dir + "/" + *e.second, e.first, true); !st.ok()) return st;
  }
  const std::string chem = p.base_dir + "/pdrinpdata/" + p.chem_database;
  if (Status st = require_file(chem, "pdr.chem_database", false); !st.ok()) return st;
  for (const auto& s : settings.model.species) {
    if (Status st = require_file(p.base_dir + "/onioninpdata/ONION3.INP." + s, "onion input for species " + s, false);
        !st.ok()) {
      return st;
    }
  }
  return Status::Ok();
}

// The pdr_config.json template (--json-template or the base directory's) and PDRNEW.INP's, if
// any, read and checked for unknown placeholders.
Status load_templates(const Settings& settings, JobPlan* plan) {
  const PdrSettings& p = settings.pdr;
  if (!settings.run.json_template.empty()) {
    // --json-template: read for this run only; nothing is written over a shared template.
    std::error_code ec;
    if (!fs::is_regular_file(settings.run.json_template, ec)) {
      return Status::Usage("--json-template: " + settings.run.json_template +
                           (fs::is_directory(settings.run.json_template, ec) ? " is a directory, not a template file"
                            : fs::exists(settings.run.json_template, ec)     ? " is not a regular file"
                                                                             : " does not exist"));
    }
    plan->json_template_path = settings.run.json_template;
  } else {
    auto json = find_template(p.base_dir, p.json_template_file);
    if (!json.ok()) return Status::Usage("pdr.json_template_file: " + json.status().message());
    plan->json_template_path = json.value();
  }
  auto json_text = read_file(plan->json_template_path);
  if (!json_text.ok()) return Status::Usage(json_text.status().message());
  plan->json_template = json_text.value();
  if (Status st = check_template(plan->json_template, TemplateKind::Json, plan->json_template_path); !st.ok()) {
    return st;
  }
  auto pdrnew = find_template(p.base_dir, p.pdrinp_template_file);
  if (!pdrnew.ok()) return Status::Ok();  // JSON-only
  plan->pdrnew_template_path = pdrnew.value();
  auto text = read_file(plan->pdrnew_template_path);
  if (!text.ok()) return Status::Usage(text.status().message());
  plan->pdrnew_template = text.value();
  return check_template(plan->pdrnew_template, TemplateKind::PdrNew, plan->pdrnew_template_path);
}

}  // namespace

Result<JobPlan> prepare_job_plan(const Settings& settings, bool probe_executable) {
  JobPlan plan;
  plan.settings = settings;
  const PdrSettings& p = settings.pdr;
  plan.model_path = (fs::path(settings.storage.base_dir) / p.model_name).lexically_normal().string();
  if (Status st = check_base_dir(settings); !st.ok()) return st;
  if (Status st = load_templates(settings, &plan); !st.ok()) return st;

  plan.child_env = child_environment();
  const std::string pdr_exe = p.base_dir + "/" + p.pdr_file_name;
  std::string digest;
  VersionInfo version;
  if (probe_executable) {
    auto sum = sha256_file(pdr_exe);
    if (!sum.ok()) return Status::Usage(sum.status().message());
    digest = sum.value();
    version = executable_version(pdr_exe, plan.child_env);
  }

  Provenance& prov = plan.provenance;
  prov.model_name = p.model_name;
  prov.model_path = plan.model_path;
  prov.username = settings.user.username;
  prov.email = settings.user.email;
  prov.exe_file_name = p.pdr_file_name;
  prov.exe_dir = p.base_dir;
  prov.exe_sha256 = digest;
  prov.exe_revision = version.revision;
  prov.exe_compilation_date = version.compilation_date;
  prov.chem_file_name = p.chem_database;
  prov.chem_full_path = p.base_dir + "/pdrinpdata/" + p.chem_database;
  prov.chem_origin = p.chem_origin;
  for (const auto& s : settings.model.species) prov.onion_species += (prov.onion_species.empty() ? "" : " ") + s;
  prov.json_template_path = plan.json_template_path;
  prov.json_template_sha256 = sha256_hex(plan.json_template);
  return plan;
}

}  // namespace pdr
