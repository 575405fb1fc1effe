#include "orchestrator/client/informer_factory.h"

#include <thread>

namespace switchyard::client {

ListerWatcherFactory http_lister_watchers(ClusterConnection connection) {
  return [connection = std::move(connection)](const std::string& path) -> std::unique_ptr<ListerWatcher> {
    return std::make_unique<HttpListerWatcher>(connection, path);
  };
}

std::string query_escape(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

void SharedInformerFactory::start() {
  std::lock_guard lock(mu_);
  started_ = true;
  for (auto& [_, informer] : informers_) informer->start();
}

void SharedInformerFactory::stop() {
  std::lock_guard lock(mu_);
  started_ = false;
  for (auto& [_, informer] : informers_) informer->stop();
}

bool SharedInformerFactory::has_synced() const {
  std::lock_guard lock(mu_);
  for (const auto& [_, informer] : informers_)
    if (!informer->has_synced()) return false;
  return true;
}

bool SharedInformerFactory::wait_for_cache_sync(std::chrono::milliseconds timeout, const std::atomic<bool>* cancel) const {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!has_synced()) {
    if ((cancel && *cancel) || std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace switchyard::client
