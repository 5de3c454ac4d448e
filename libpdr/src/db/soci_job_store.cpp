// The SOCI JobStore: shared helpers, the transaction wrapper's read-back, row conversions and
// open_job_store (soci_job_store.h says where each concern lives).
#include "db/soci_job_store.h"

namespace pdr {

std::string this_host() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

bool process_alive(long long pid) {
  if (pid <= 0) return false;
  return kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

// Whether two recorded model paths name the same place: a relative path (the predecessor
// records storage.base_dir as it was given) is taken from the current directory, and "a/./b/"
// is "a/b". Remote paths ("remote:dir") are compared as text.
bool same_location(const std::string& a, const std::string& b) {
  if (a == b) return true;
  auto norm = [](const std::string& p) {
    if (p.find(':') != std::string::npos) return p;
    std::error_code ec;
    std::string n = std::filesystem::absolute(p, ec).lexically_normal().string();
    while (n.size() > 1 && n.back() == '/') n.pop_back();
    return n;
  };
  return norm(a) == norm(b);
}

// `text` with every byte that is not part of a well-formed UTF-8 sequence replaced by '?'.
std::string valid_utf8(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  const auto* b = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    const unsigned char c = b[i];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool ok = len > 0 && i + len <= n;
    for (size_t k = 1; ok && k < len; ++k) ok = (b[i + k] & 0xC0) == 0x80;
    if (ok && len > 1) {
      const unsigned cp = len == 2 ? ((c & 0x1Fu) << 6 | (b[i + 1] & 0x3Fu))
                          : len == 3 ? ((c & 0x0Fu) << 12 | (b[i + 1] & 0x3Fu) << 6 | (b[i + 2] & 0x3Fu))
                                     : ((c & 0x07u) << 18 | (b[i + 1] & 0x3Fu) << 12 | (b[i + 2] & 0x3Fu) << 6 |
                                        (b[i + 3] & 0x3Fu));
      ok = cp >= (len == 2 ? 0x80u : len == 3 ? 0x800u : 0x10000u) && cp <= 0x10FFFFu && (cp < 0xD800u || cp > 0xDFFFu);
    }
    if (ok) {
      out.append(text, i, len);
      i += len;
    } else {
      out += '?';
      ++i;
    }
  }
  return out;
}

// Job columns an output file kind may fill.
bool is_job_output_column(const std::string& kind) {
  static const std::unordered_set<std::string> columns = {
      "output_hdf4_file",      "output_textout_file",   "output_chemchk_file",
      "output_mcdrt_zip_file", "output_ctrl_ind_file",  "output_hdf5_file",
      "input_pdrnew_inp_file", "input_json_file",       "log_file"};
  return columns.count(kind) != 0;
}

// What identifies a failure for "failed the same way twice": the stage and what happened,
// without the program's last output.
std::string failure_signature(const std::string& error) {
  const auto cut = error.find(" (");
  return error.substr(0, cut);
}

std::string SociJobStore::lower(std::string v) {
  for (char& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return v;
}

long long SociJobStore::as_integer(const soci::row& row, std::size_t i) {
  switch (row.get_properties(i).get_data_type()) {
    case soci::dt_integer: return row.get<int>(i);
    case soci::dt_long_long: return row.get<long long>(i);
    case soci::dt_unsigned_long_long: return static_cast<long long>(row.get<unsigned long long>(i));
    case soci::dt_double: return static_cast<long long>(row.get<double>(i));
    default: return std::stoll(row.get<std::string>(i));
  }
}

std::string SociJobStore::field_text(const soci::row& row, std::size_t i, ParamType type) {
  switch (row.get_properties(i).get_data_type()) {
    case soci::dt_double: return real_text(row.get<double>(i), type);
    case soci::dt_integer: return std::to_string(row.get<int>(i));
    case soci::dt_long_long: return std::to_string(row.get<long long>(i));
    case soci::dt_unsigned_long_long: return std::to_string(row.get<unsigned long long>(i));
    default: return row.get<std::string>(i);
  }
}

std::string SociJobStore::real_text(double v, ParamType type) {
  if (type == ParamType::Integer) return std::to_string(static_cast<long long>(v));
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

Result<std::unique_ptr<JobStore>> open_job_store(DbManager& manager, bool create_schema) {
  auto store = std::make_unique<SociJobStore>(&manager);
  Status st = create_schema ? store->open_schema() : Status::Ok();
  if (!st.ok()) return st;
  st = store->check_server();
  if (!st.ok()) return st;
  // The job counters of a database opened to be used (not doctor's look): their triggers.
  if (create_schema && !store->counters_live()) st = store->ensure_counters();
  if (!st.ok()) return st;
  return std::unique_ptr<JobStore>(std::move(store));
}

}  // namespace pdr
