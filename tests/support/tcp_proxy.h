// A TCP proxy between pdr_run and its database server that can lose a connection exactly at a
// COMMIT: either before the COMMIT reaches the server (the transaction is rolled back) or after
// the server has committed but before the client sees the answer (the outcome is unknown to the
// client). It reads only the message framing of the client's stream: MySQL's packets (3-byte
// length, sequence, payload; COM_QUERY = 0x03), or PostgreSQL's messages (untyped SSL request
// and startup, then a type byte and a 4-byte big-endian length; a simple query is 'Q').
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace pdr::test {

class CommitCuttingProxy {
 public:
  enum class Protocol { kMysql, kPostgresql };
  // Every `every`-th COMMIT is cut, alternating: before it reaches the server, after it did.
  CommitCuttingProxy(int server_port, int every, Protocol protocol = Protocol::kMysql)
      : server_port_(server_port), every_(every), protocol_(protocol) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int on = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    listen(listen_fd_, 64);
    socklen_t len = sizeof a;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~CommitCuttingProxy() {
    stop_ = true;
    shutdown(listen_fd_, SHUT_RDWR);
    close(listen_fd_);
    acceptor_.join();
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& t : relays_) t.join();
  }
  int port() const { return port_; }
  int cut_before() const { return cut_before_; }
  int cut_after() const { return cut_after_; }

 private:
  void accept_loop() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      int client = accept(listen_fd_, nullptr, nullptr);
      if (client < 0) continue;
      int server = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(static_cast<uint16_t>(server_port_));
      if (connect(server, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        close(client);
        close(server);
        continue;
      }
      int on = 1;
      setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
      setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
      std::lock_guard<std::mutex> lock(mu_);
      relays_.emplace_back([this, client, server] { relay(client, server); });
    }
  }

  // `payload` starts with the command byte: MySQL's COM_QUERY (0x03), PostgreSQL's simple query
  // ('Q': the text) or Parse of the extended protocol ('P': a statement name, then the text).
  bool is_commit(const std::string& payload) const {
    if (payload.empty()) return false;
    const unsigned char type = static_cast<unsigned char>(payload[0]);
    std::string q;
    if (protocol_ == Protocol::kMysql) {
      if (type != 0x03) return false;
      q = payload.substr(1);
    } else if (type == 'Q') {
      q = payload.substr(1, payload.find('\0', 1) - 1);
    } else if (type == 'P') {
      const size_t name_end = payload.find('\0', 1);
      if (name_end == std::string::npos) return false;
      q = payload.substr(name_end + 1, payload.find('\0', name_end + 1) - name_end - 1);
    } else {
      return false;
    }
    q.erase(std::remove_if(q.begin(), q.end(), [](unsigned char c) { return std::isspace(c); }), q.end());
    std::transform(q.begin(), q.end(), q.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return q == "COMMIT";
  }

  static bool send_all(int fd, const char* data, size_t n) {
    while (n > 0) {
      ssize_t w = send(fd, data, n, MSG_NOSIGNAL);
      if (w <= 0) return false;
      data += w;
      n -= static_cast<size_t>(w);
    }
    return true;
  }

  void relay(int client, int server) {
    std::string pending;   // client bytes not yet forwarded (an incomplete packet)
    bool started = false;  // PostgreSQL: the untyped startup messages are through
    std::string out;       // whole messages to forward
    char buf[65536];
    bool open = true;
    while (open && !stop_) {
      pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
      if (poll(fds, 2, 100) <= 0) continue;
      if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
        ssize_t n = recv(server, buf, sizeof buf, 0);
        if (n <= 0 || !send_all(client, buf, static_cast<size_t>(n))) open = false;
      }
      if (open && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
        ssize_t n = recv(client, buf, sizeof buf, 0);
        if (n <= 0) {
          open = false;
          break;
        }
        pending.append(buf, static_cast<size_t>(n));
        for (;;) {
          const auto byte = [&](size_t i) { return static_cast<size_t>(static_cast<unsigned char>(pending[i])); };
          size_t size = 0;  // of the whole message
          std::string payload;
          if (protocol_ == Protocol::kMysql) {
            if (pending.size() < 4) break;
            size = 4 + (byte(0) | (byte(1) << 8) | (byte(2) << 16));
            if (pending.size() < size) break;
            payload = pending.substr(4, size - 4);
          } else if (!started) {
            if (pending.size() < 8) break;
            size = (byte(0) << 24) | (byte(1) << 16) | (byte(2) << 8) | byte(3);
            if (pending.size() < size) break;
            const size_t code = (byte(4) << 24) | (byte(5) << 16) | (byte(6) << 8) | byte(7);
            started = code != 80877103 && code != 80877104;  // after SSL/GSS requests comes the startup
          } else {
            if (pending.size() < 5) break;
            size = 1 + ((byte(1) << 24) | (byte(2) << 16) | (byte(3) << 8) | byte(4));
            if (pending.size() < size) break;
            payload = pending.substr(0, 1) + pending.substr(5, size - 5);
          }
          const std::string packet = pending.substr(0, size);
          pending.erase(0, size);
          if (is_commit(payload) && ++commits_ % every_ == 0) {
            if ((commits_ / every_) % 2 == 1) {
              send_all(server, out.data(), out.size());  // what came before it
              ++cut_before_;                             // never reaches the server: rolled back there
            } else {
              // With the rest of the client's bytes (PostgreSQL's Bind/Execute/Sync after a Parse).
              send_all(server, out.data(), out.size());
              send_all(server, packet.data(), packet.size());
              send_all(server, pending.data(), pending.size());
              pollfd answer{server, POLLIN, 0};
              if (poll(&answer, 1, 5000) > 0) recv(server, buf, sizeof buf, 0);  // the server's OK, swallowed
              ++cut_after_;
            }
            open = false;
            break;
          }
          out += packet;  // sent together: one write per read (no Nagle delay between messages)
        }
        if (open && !out.empty() && !send_all(server, out.data(), out.size())) open = false;
        out.clear();
      }
    }
    close(client);
    close(server);
  }

  int server_port_, every_;
  Protocol protocol_;
  int listen_fd_ = -1, port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> commits_{0}, cut_before_{0}, cut_after_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> relays_;
};

}  // namespace pdr::test
