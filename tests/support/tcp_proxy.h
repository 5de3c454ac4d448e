// A TCP proxy between pdr_run and MariaDB that can lose a connection exactly at a COMMIT: either
// before the COMMIT reaches the server (the transaction is rolled back) or after the server has
// committed but before the client sees the answer (the outcome is unknown to the client). It
// reads the MySQL packet framing of the client's stream (3-byte length, sequence, payload;
// COM_QUERY = 0x03) and nothing else.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
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
  // Every `every`-th COMMIT is cut, alternating: before it reaches the server, after it did.
  CommitCuttingProxy(int server_port, int every) : server_port_(server_port), every_(every) {
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
      std::lock_guard<std::mutex> lock(mu_);
      relays_.emplace_back([this, client, server] { relay(client, server); });
    }
  }

  static bool is_commit(const std::string& payload) {
    if (payload.empty() || static_cast<unsigned char>(payload[0]) != 0x03) return false;
    std::string q = payload.substr(1);
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
    std::string pending;  // client bytes not yet forwarded (an incomplete packet)
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
        while (pending.size() >= 4) {
          const auto byte = [&](size_t i) { return static_cast<size_t>(static_cast<unsigned char>(pending[i])); };
          const size_t len = byte(0) | (byte(1) << 8) | (byte(2) << 16);
          if (pending.size() < 4 + len) break;
          const std::string packet = pending.substr(0, 4 + len);
          pending.erase(0, 4 + len);
          if (is_commit(packet.substr(4)) && ++commits_ % every_ == 0) {
            if ((commits_ / every_) % 2 == 1) {
              ++cut_before_;  // never reaches the server: rolled back there
            } else {
              send_all(server, packet.data(), packet.size());
              recv(server, buf, sizeof buf, 0);  // the server's OK, swallowed
              ++cut_after_;
            }
            open = false;
            break;
          }
          if (!send_all(server, packet.data(), packet.size())) {
            open = false;
            break;
          }
        }
      }
    }
    close(client);
    close(server);
  }

  int server_port_, every_;
  int listen_fd_ = -1, port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> commits_{0}, cut_before_{0}, cut_after_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> relays_;
};

}  // namespace pdr::test
