#include "pdr/sha256.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace pdr {
namespace {

// SHA-256 fetched from its provider once: EVP_sha256() makes OpenSSL 3 look the provider up again
// (under a lock) on every digest, which cost more than hashing a grid point's parameters.
const EVP_MD* sha256_md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md != nullptr ? md : EVP_sha256();
}

class Digest {
 public:
  Digest() : ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free) { EVP_DigestInit_ex(ctx_.get(), sha256_md(), nullptr); }
  void update(const char* data, size_t n) { EVP_DigestUpdate(ctx_.get(), data, n); }
  std::string hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_.get(), md, &len);
    static const char* digits = "0123456789abcdef";
    std::string out;
    out.reserve(2 * len);
    for (unsigned int i = 0; i < len; ++i) {
      out += digits[md[i] >> 4];
      out += digits[md[i] & 15];
    }
    return out;
  }

 private:
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx_;
};

}  // namespace

std::string sha256_hex(const std::string& data) {
  Digest d;
  d.update(data.data(), data.size());
  return d.hex();
}

Result<std::string> sha256_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::Io(path + ": cannot open for checksum: " + std::strerror(errno));
  // One buffer per thread, never cleared: a job hashes a dozen outputs, and a fresh zeroed
  // buffer (with a stream around it) cost more than hashing the small ones.
  constexpr size_t kBuffer = 1 << 16;
  thread_local std::unique_ptr<char[]> buf(new char[kBuffer]);
  Digest d;
  for (;;) {
    const ssize_t n = ::read(fd, buf.get(), kBuffer);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const int e = errno;
      ::close(fd);
      return Status::Io(path + ": read error while computing checksum: " + std::strerror(e));
    }
    d.update(buf.get(), static_cast<size_t>(n));
  }
  ::close(fd);
  return d.hex();
}

}  // namespace pdr
