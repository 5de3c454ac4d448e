// Where job outputs go. A store either lands the whole file (and says where, with its checksum)
// or fails with an error: an output is never reported stored when it is not.
//
// A job's outputs are staged: stored and verified under a name of their own for the attempt
// (beside the final name, so that taking it is one rename), and given their final names only
// after the attempt's outcome was recorded under its lease. A worker whose lease was taken over
// (stopped, cut off, presumed dead) therefore never writes over the outputs of the attempt that
// was recorded: its staged copies are discarded.
#pragma once

#include <memory>
#include <optional>
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
  // With a `stage_tag` (one per attempt) the copy is left under a staged name (the returned
  // file's staged_path) until promote() or discard(); its path is the final one.
  virtual Result<StoredFile> store(const std::string& local_path, const std::string& relative_path,
                                   const std::string& kind, const std::string& stage_tag = "") = 0;
  // Gives staged files their final names (replacing what is there). Files not staged are left
  // alone. Stops at the first failure.
  virtual Status promote(const std::vector<StoredFile>& files) = 0;
  // Removes staged copies (an outcome that was not recorded); best effort.
  virtual void discard(const std::vector<StoredFile>& files) = 0;
  // Copies <root>/<model>/<relative_path> back to `local_path`.
  virtual Status retrieve(const std::string& relative_path, const std::string& local_path) = 0;
  // Whether a stored file (a path store() reported) exists.
  virtual bool exists(const std::string& stored_path) = 0;
  // exists(), or nullopt when the storage cannot tell (a remote that does not answer).
  virtual std::optional<bool> find(const std::string& stored_path) { return exists(stored_path); }
  // Why a stored file no longer matches its record (missing, other size or sha256), or "";
  // kStorageUnreachable and why when the storage cannot tell whether it is there, and
  // kOutputUnreadable and why when it is there but cannot be read.
  virtual std::string check(const StoredFile& file) = 0;
  // Every staged copy in the model's output directories (<root>/<model>/pdrgrid and oniongrid),
  // as the staged_path store() reported for it; an error when the storage cannot be listed.
  virtual Result<std::vector<std::string>> staged_copies() = 0;
  // Removes one staged copy (a path staged_copies() listed); an error when it stays.
  virtual Status remove_copy(const std::string& staged_path) = 0;
};

// The starts of check()'s answers that say nothing about whether the output is as recorded: the
// storage did not answer (a remote that does not, a network filesystem's I/O error), or the
// output is there and could not be read (a permission, a read error). No job is run again for
// either.
inline constexpr const char* kStorageUnreachable = "storage unreachable: ";
inline constexpr const char* kOutputUnreadable = "output unreadable: ";
inline bool is_unreachable(const std::string& problem) { return problem.rfind(kStorageUnreachable, 0) == 0; }
inline bool is_unreadable(const std::string& problem) { return problem.rfind(kOutputUnreadable, 0) == 0; }
inline bool cannot_tell(const std::string& problem) { return is_unreachable(problem) || is_unreadable(problem); }

// Whether an output of this kind is a step's log: the file its programs wrote their standard
// output and error to, which every process a step leaves behind inherits and may still write.
inline bool is_step_log(const std::string& kind) { return kind == "output_textout_file" || kind == "onion_log"; }

// The directories of a model's outputs, below <root>/<model>.
inline const std::vector<std::string>& output_directories() {
  static const std::vector<std::string> dirs = {"pdrgrid", "oniongrid"};
  return dirs;
}

// The final path and the attempt tag of a staged path (staged_path's inverse); false when
// `path` is not one.
bool parse_staged_path(const std::string& path, std::string* final_path, std::string* stage_tag);

// The staged path of `final_path` for one attempt: the same directory (after the last '/' or,
// for an rclone remote's root, ':'), the name hidden and tagged.
std::string staged_path(const std::string& final_path, const std::string& stage_tag);

// `model_root` is <base_dir>/<model>; for local storage it is created when missing. `env` is the
// environment of helper programs (rclone).
Result<std::unique_ptr<Storage>> open_storage(const StorageSettings& settings, const std::string& model_root,
                                              const std::vector<std::string>& env);

}  // namespace pdr
