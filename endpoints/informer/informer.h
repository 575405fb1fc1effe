// List+watch of one resource as client-go's reflector does it: list, then watch from the
// list's resourceVersion with bookmarks; on 410 Expired relist; on errors back off with jitter
// (0.5 s doubling to 30 s) and resume from the last resourceVersion seen. The last state stays
// with the caller while the API server is away.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "endpoints/informer/api_client.h"

namespace switchyard::informer {

struct InformerHandlers {
  // The complete current list (after a list or relist): objects not in it are gone.
  std::function<void(const std::vector<nlohmann::json>&)> replace;
  // ADDED / MODIFIED / DELETED.
  std::function<void(const std::string& type, const nlohmann::json& object)> event;
  // Optional: after each list or relist was handed to `replace` and synced() became true.
  std::function<void()> listed;
};

class Informer {
 public:
  // `path`: the collection, e.g. "/api/v1/services" or "/api/v1/nodes?fieldSelector=metadata.name%3Dn1".
  Informer(ClusterConnection connection, std::string path, InformerHandlers handlers);
  ~Informer();
  // start() after stop() resumes the watch from the last resourceVersion seen, as a reflector
  // does after a pause (a 410 then means a relist).
  void start();
  void stop();
  bool synced() const { return synced_; }
  std::uint64_t relists() const { return relists_; }

 private:
  void run();
  bool list_once(std::string& resource_version);
  ClusterConnection connection_;
  std::string path_;
  InformerHandlers handlers_;
  std::atomic<bool> stopping_{false}, synced_{false};
  std::atomic<std::uint64_t> relists_{0};
  std::string resource_version_;  // the last one seen; owned by the informer's thread
  bool need_list_ = true;
  std::mutex client_mu_;
  ApiClient* active_ = nullptr;  // the request in progress, so that stop() can end it
  std::thread thread_;
};

}  // namespace switchyard::informer
