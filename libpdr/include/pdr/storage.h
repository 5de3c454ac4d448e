// Where job outputs go. A store either lands the whole file (and says where, with its checksum)
// or fails with an error: an output is never reported stored when it is not.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "pdr/job_store.h"
#include "pdr/status.h"

namespace pdr {

struct StorageSettings;

class Storage {
 public:
  virtual ~Storage() = default;
  // Stores `local_path` as <root>/<model>/<relative_path>; `kind` is recorded with the file.
  virtual Result<StoredFile> store(const std::string& local_path, const std::string& relative_path,
                                   const std::string& kind) = 0;
  // Copies <root>/<model>/<relative_path> back to `local_path`.
  virtual Status retrieve(const std::string& relative_path, const std::string& local_path) = 0;
  // Whether a stored file (a path store() reported) exists.
  virtual bool exists(const std::string& stored_path) = 0;
  // Why a stored file no longer matches its record (missing, other size or sha256), or "".
  virtual std::string check(const StoredFile& file) = 0;
};

// `model_root` is <base_dir>/<model>; for local storage it is created when missing. `env` is the
// environment of helper programs (rclone).
Result<std::unique_ptr<Storage>> open_storage(const StorageSettings& settings, const std::string& model_root,
                                              const std::vector<std::string>& env);

}  // namespace pdr
