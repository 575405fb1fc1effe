#include "endpoints/informer/informer.h"

#include <chrono>
#include <random>

#include <spdlog/spdlog.h>

namespace switchyard::informer {

using nlohmann::json;

Informer::Informer(ClusterConnection connection, std::string path, InformerHandlers handlers)
    : connection_(std::move(connection)), path_(std::move(path)), handlers_(std::move(handlers)) {}

Informer::~Informer() { stop(); }

void Informer::start() {
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void Informer::stop() {
  stopping_ = true;
  {
    std::lock_guard lock(client_mu_);
    if (active_) active_->abort();
  }
  if (thread_.joinable()) thread_.join();
}

static std::string with_query(const std::string& path, const std::string& query) {
  return path + (path.find('?') == std::string::npos ? "?" : "&") + query;
}

bool Informer::list_once(std::string& resource_version) {
  ApiClient client(connection_);
  auto r = client.get(path_);
  if (!r) {
    spdlog::warn("event=list_failed path={} error=\"{}\"", path_, r.error());
    return false;
  }
  if (r->status != 200) {
    spdlog::warn("event=list_failed path={} status={}", path_, r->status);
    return false;
  }
  json list = json::parse(r->body, nullptr, false);
  if (!list.is_object() || !list.contains("items")) return false;
  std::vector<json> items(list["items"].begin(), list["items"].end());
  handlers_.replace(items);
  resource_version = list["metadata"].value("resourceVersion", "");
  synced_ = true;
  ++relists_;
  if (handlers_.listed) handlers_.listed();
  return true;
}

void Informer::run() {
  std::mt19937 rng(std::random_device{}());
  auto backoff = std::chrono::milliseconds(500);
  std::string& rv = resource_version_;
  bool& need_list = need_list_;
  auto sleep_for = [&](std::chrono::milliseconds d) {
    const auto until = std::chrono::steady_clock::now() + d;
    while (!stopping_ && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  };
  auto back_off = [&] {
    // Jitter: anywhere in [d/2, d], so that agents do not come back in lockstep.
    std::uniform_int_distribution<long> jitter(backoff.count() / 2, backoff.count());
    sleep_for(std::chrono::milliseconds(jitter(rng)));
    backoff = std::min(backoff * 2, std::chrono::milliseconds(30000));
  };
  while (!stopping_) {
    if (need_list) {
      if (!list_once(rv)) {
        back_off();
        continue;
      }
      need_list = false;
    }
    ApiClient client(connection_);
    {
      std::lock_guard lock(client_mu_);
      if (stopping_) return;
      active_ = &client;
    }
    bool expired = false;
    auto status = client.stream(with_query(path_, "watch=true&allowWatchBookmarks=true&timeoutSeconds=300&resourceVersion=" + rv),
                                [&](const std::string& line) {
                                  json e = json::parse(line, nullptr, false);
                                  if (!e.is_object()) return !stopping_;
                                  const std::string type = e.value("type", "");
                                  const json& obj = e["object"];
                                  if (type == "ERROR") {
                                    expired = obj.value("code", 0) == 410;
                                    return false;
                                  }
                                  const std::string next = obj["metadata"].value("resourceVersion", "");
                                  if (!next.empty()) rv = next;
                                  if (type != "BOOKMARK") handlers_.event(type, obj);
                                  return !stopping_;
                                });
    {
      std::lock_guard lock(client_mu_);
      active_ = nullptr;
    }
    if (stopping_) return;
    if (expired || (status && *status == 410)) {
      spdlog::info("event=watch_expired path={} resource_version={} action=relist", path_, rv);
      need_list = true;
      continue;
    }
    if (!status || *status != 200) {
      spdlog::warn("event=watch_failed path={} error=\"{}\"", path_, status ? std::to_string(*status) : status.error());
      back_off();
      continue;
    }
    backoff = std::chrono::milliseconds(500);  // a clean end of the stream (timeout): watch again
  }
}

}  // namespace switchyard::informer
