// Errors as values at module boundaries. A Status says whether an operation worked and, when it
// did not, what kind of failure it was (so callers can decide to retry, stop, or report) and a
// one-line message that is safe to print (secrets are never put into it).
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace pdr {

enum class ErrorKind {
  kUsage,           // bad flag, config, grid value, path or template: exit 2, nothing written
  kTransient,       // may succeed if retried (lost connection, busy database)
  kOutcomeUnknown,  // a write may or may not have landed (connection lost at COMMIT)
  kPermanent,       // retrying cannot help (syntax, missing table, constraint, access denied)
  kIo,              // file system or child-process failure
  kInterrupted,     // SIGINT/SIGTERM arrived
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  static Status Error(ErrorKind kind, std::string message, int code = 0) {
    Status s;
    s.failed_ = true;
    s.kind_ = kind;
    s.message_ = std::move(message);
    s.code_ = code;
    return s;
  }
  static Status Usage(std::string message) { return Error(ErrorKind::kUsage, std::move(message)); }
  static Status Io(std::string message) { return Error(ErrorKind::kIo, std::move(message)); }

  bool ok() const { return !failed_; }
  ErrorKind kind() const { return kind_; }
  const std::string& message() const { return message_; }
  int code() const { return code_; }  // the database's error number, when there is one

 private:
  bool failed_ = false;
  ErrorKind kind_ = ErrorKind::kPermanent;
  std::string message_;
  int code_ = 0;
};

// A value or the Status explaining why there is none.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}  // NOLINT
  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() { return *value_; }
  const T& value() const { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace pdr
