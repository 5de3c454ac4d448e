// Where job outputs go. A store either lands the whole file (and says where, with its checksum)
// or fails with an error: an output is never reported stored when it is not.
#pragma once

#include <memory>
#include <string>

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
};

// `model_root` is <base_dir>/<model>; it is created when missing.
Result<std::unique_ptr<Storage>> open_storage(const StorageSettings& settings, const std::string& model_root);

}  // namespace pdr
