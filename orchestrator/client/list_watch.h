// The list and watch calls of one collection, behind an interface so that a reflector can be
// fed by the API server over HTTP(S) (HttpListerWatcher) or by anything a test puts in between
// (client/testing/faulty_lister_watcher.h). client-go's cache.ListerWatcher.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "orchestrator/base/error.h"
#include "orchestrator/client/cluster_connection.h"

namespace switchyard::client {

class ApiClient;

struct ObjectList {
  std::vector<nlohmann::json> items;
  std::string resource_version;  // of the list: where a watch resumes
};

enum class WatchEventType { Added, Modified, Deleted, Bookmark };

struct WatchEvent {
  WatchEventType type = WatchEventType::Added;
  nlohmann::json object;
};

class ListerWatcher {
 public:
  virtual ~ListerWatcher() = default;
  // The whole collection. Any failure (transport, non-200, a body that is not a list) is an
  // error: never an empty list.
  virtual Result<ObjectList> list() = 0;
  // Events after `resource_version` until the server ends the stream (success), `on_event`
  // returns false (success) or it fails. A resourceVersion the server no longer has (410, or
  // an ERROR event with code 410) is ErrorCode::Compacted: the caller must relist.
  virtual Result<void> watch(const std::string& resource_version, const std::function<bool(WatchEvent&&)>& on_event) = 0;
  // From another thread: ends the list or watch in progress (it returns an error), and fails
  // every later one at once until resume().
  virtual void abort() = 0;
  virtual void resume() = 0;
  // The collection, for logs: "/api/v1/pods?fieldSelector=…".
  virtual const std::string& describe() const = 0;
};

// `path`: the collection with an optional query, e.g. "/api/v1/services" or
// "/api/v1/nodes?fieldSelector=metadata.name%3Dn1". Watches ask for bookmarks and end after
// `watch_timeout_seconds` (then the reflector watches again from where it was).
class HttpListerWatcher final : public ListerWatcher {
 public:
  HttpListerWatcher(ClusterConnection connection, std::string path, int watch_timeout_seconds = 300);
  ~HttpListerWatcher() override;
  Result<ObjectList> list() override;
  Result<void> watch(const std::string& resource_version, const std::function<bool(WatchEvent&&)>& on_event) override;
  void abort() override;
  void resume() override;
  const std::string& describe() const override { return path_; }

 private:
  ClusterConnection connection_;
  std::string path_;
  int watch_timeout_seconds_;
  std::mutex mu_;
  ApiClient* active_ = nullptr;  // the request in progress, for abort()
  bool aborted_ = false;         // between abort() and resume()
};

// Maps an HTTP status of a failed request to the error code a caller acts on (409 Conflict,
// 404 NotFound, 410 Compacted, 5xx Unavailable, …) with the Status message when there is one.
Error http_error(int status, const std::string& body, const std::string& what);

}  // namespace switchyard::client
