#include "node/cluster_state_feed.h"

#include <cstdio>
#include <ctime>
#include <utility>

namespace switchyard::node {

namespace {

using client::ObjectPtr;

constexpr const char* kTriggerTime = "endpoints.kubernetes.io/last-change-trigger-time";

std::pair<std::string, std::string> key_of(const api::ObjectMeta& m) { return {m.namespace_, m.name}; }

}  // namespace

// "2024-05-01T10:00:00Z", "2024-05-01T10:00:00.123456Z", "2024-05-01T12:00:00+02:00".
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(const std::string& text) {
  std::tm tm{};
  const char* rest = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!rest) return std::nullopt;
  auto t = std::chrono::system_clock::from_time_t(timegm(&tm));
  if (*rest == '.') {
    double scale = 0.1, fraction = 0;
    for (++rest; *rest >= '0' && *rest <= '9'; ++rest, scale /= 10) fraction += (*rest - '0') * scale;
    t += std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::duration<double>(fraction));
  }
  if (*rest == 'Z' || *rest == 'z') return t;
  int hours = 0, minutes = 0;
  if ((*rest == '+' || *rest == '-') && std::sscanf(rest + 1, "%d:%d", &hours, &minutes) == 2) {
    const auto offset = std::chrono::hours(hours) + std::chrono::minutes(minutes);
    return *rest == '+' ? t - offset : t + offset;
  }
  return std::nullopt;
}

std::vector<std::string> ClusterStateFeed::watched_collections() {
  return {client::collection_path<api::Service>(), client::collection_path<api::EndpointSlice>(), client::collection_path<api::Node>(),
          client::collection_path<api::Namespace>()};
}

// The handler registrations, removed before the feed goes.
struct ClusterStateFeed::Handlers {
  ClusterStateFeed& feed;
  std::uint64_t services = 0, slices = 0, node = 0, namespaces = 0, pods = 0;
  ~Handlers() {
    feed.services_.remove_event_handler(services);
    feed.slices_.remove_event_handler(slices);
    feed.node_informer_.remove_event_handler(node);
    feed.namespaces_.remove_event_handler(namespaces);
    if (feed.pods_) feed.pods_->remove_event_handler(pods);
  }
};

ClusterStateFeed::ClusterStateFeed(client::ClusterConnection connection, endpoints::ClusterStateOptions options)
    : ClusterStateFeed(std::make_unique<client::SharedInformerFactory>(std::move(connection)), options) {}

ClusterStateFeed::ClusterStateFeed(std::unique_ptr<client::SharedInformerFactory> own, endpoints::ClusterStateOptions options)
    : ClusterStateFeed(std::move(own), nullptr, options) {}

ClusterStateFeed::ClusterStateFeed(client::SharedInformerFactory& informers, endpoints::ClusterStateOptions options)
    : ClusterStateFeed(nullptr, &informers, options) {}

ClusterStateFeed::ClusterStateFeed(std::unique_ptr<client::SharedInformerFactory> own, client::SharedInformerFactory* shared,
                                   endpoints::ClusterStateOptions options)
    : own_informers_(std::move(own)),
      services_((shared ? *shared : *own_informers_).informer<api::Service>()),
      slices_((shared ? *shared : *own_informers_).informer<api::EndpointSlice>()),
      node_informer_((shared ? *shared : *own_informers_).informer<api::Node>("metadata.name=" + options.node_name)),
      namespaces_((shared ? *shared : *own_informers_).informer<api::Namespace>()),
      factory_(shared ? shared : own_informers_.get()),
      state_(options) {
  // ClusterState parses each Service and EndpointSlice into its own records: the informers
  // need to remember only which objects exist (issue #25: their caches of whole objects were
  // ~115 MiB at 10,000 services × 10 endpoints). An informer someone else already uses keeps
  // whole objects.
  if (auto kept = services_.keep_keys_only(); !kept) spdlog::warn("event=informer_cache_whole error=\"{}\"", kept.error().message);
  if (auto kept = slices_.keep_keys_only(); !kept) spdlog::warn("event=informer_cache_whole error=\"{}\"", kept.error().message);
  handlers_ = std::make_unique<Handlers>(Handlers{*this});
  handlers_->services = services_.add_event_handler({
      [this](const ObjectPtr<api::Service>& s) {
        {
          std::lock_guard lock(mu_);
          state_.upsert(*s);
        }
        changed(services_);
      },
      [this](const ObjectPtr<api::Service>&, const ObjectPtr<api::Service>& s) {
        {
          std::lock_guard lock(mu_);
          state_.upsert(*s);
        }
        changed(services_);
      },
      [this](const ObjectPtr<api::Service>& s, bool) {
        {
          std::lock_guard lock(mu_);
          state_.remove_service({s->metadata.namespace_, s->metadata.name});
        }
        changed(services_);
      },
      [this] { changed(); },
  });
  auto upsert_slice = [this](const ObjectPtr<api::EndpointSlice>& s) {
    {
      std::lock_guard lock(mu_);
      state_.upsert(*s);
      note_trigger_time(*s);
    }
    changed(slices_);
  };
  handlers_->slices = slices_.add_event_handler({
      upsert_slice,
      [upsert_slice](const auto&, const ObjectPtr<api::EndpointSlice>& s) { upsert_slice(s); },
      [this](const ObjectPtr<api::EndpointSlice>& s, bool) {
        {
          std::lock_guard lock(mu_);
          state_.remove_slice(s->metadata.namespace_, s->metadata.name);
          trigger_annotation_.erase(key_of(s->metadata));
        }
        changed(slices_);
      },
      [this] { changed(); },
  });
  auto upsert_node = [this](const ObjectPtr<api::Node>& n) {
    {
      std::lock_guard lock(mu_);
      state_.set_node(*n);
      node_ = *n;
    }
    changed(node_informer_);
  };
  handlers_->node = node_informer_.add_event_handler({
      upsert_node,
      [upsert_node](const auto&, const ObjectPtr<api::Node>& n) { upsert_node(n); },
      [this](const ObjectPtr<api::Node>&, bool) {
        {
          std::lock_guard lock(mu_);
          node_.reset();  // the Snapshot keeps the last zone: topology stays as it was
        }
        changed(node_informer_);
      },
      [this] { changed(); },
  });
  auto upsert_namespace = [this](const ObjectPtr<api::Namespace>& n) {
    {
      std::lock_guard lock(mu_);
      state_.upsert_namespace(n->metadata.name);
    }
    changed(namespaces_);
  };
  handlers_->namespaces = namespaces_.add_event_handler({
      upsert_namespace,
      [upsert_namespace](const auto&, const ObjectPtr<api::Namespace>& n) { upsert_namespace(n); },
      [this](const ObjectPtr<api::Namespace>& n, bool) {
        {
          std::lock_guard lock(mu_);
          state_.remove_namespace(n->metadata.name);
        }
        changed(namespaces_);
      },
      [this] { changed(); },
  });
}

void ClusterStateFeed::watch_pods() {
  if (pods_) return;
  pods_ = &factory_->informer<api::Pod>();
  auto upsert_pod = [this](const ObjectPtr<api::Pod>& p) {
    {
      std::lock_guard lock(mu_);
      state_.upsert(*p);
    }
    changed(*pods_);
  };
  handlers_->pods = pods_->add_event_handler({
      upsert_pod,
      [upsert_pod](const auto&, const ObjectPtr<api::Pod>& p) { upsert_pod(p); },
      [this](const ObjectPtr<api::Pod>& p, bool) {
        {
          std::lock_guard lock(mu_);
          state_.remove_pod(p->metadata.namespace_, p->metadata.name);
        }
        changed(*pods_);
      },
      [this] { changed(); },
  });
}

ClusterStateFeed::~ClusterStateFeed() {
  stop();
  handlers_.reset();
}

void ClusterStateFeed::start() {
  {
    std::lock_guard lock(mu_);
    started_ = std::chrono::system_clock::now();
  }
  services_.start();
  slices_.start();
  node_informer_.start();
  namespaces_.start();
  if (pods_) pods_->start();
}

void ClusterStateFeed::stop() {
  services_.stop();
  slices_.stop();
  node_informer_.stop();
  namespaces_.stop();
  if (pods_) pods_->stop();
}

bool ClusterStateFeed::synced() const {
  return services_.has_synced() && slices_.has_synced() && node_informer_.has_synced() && namespaces_.has_synced() &&
         (!pods_ || pods_->has_synced());
}

std::uint64_t ClusterStateFeed::lists() const {
  return services_.lists() + slices_.lists() + node_informer_.lists() + namespaces_.lists() + (pods_ ? pods_->lists() : 0);
}

std::shared_ptr<const endpoints::Snapshot> ClusterStateFeed::snapshot() {
  std::lock_guard lock(mu_);
  return state_.build();
}

void ClusterStateFeed::note_trigger_time(const api::EndpointSlice& slice) {
  const auto it = slice.metadata.annotations.find(kTriggerTime);
  if (it == slice.metadata.annotations.end()) return;
  auto& last = trigger_annotation_[key_of(slice.metadata)];
  if (last == it->second) return;  // the same change seen again (a relist, a status-only update)
  last = it->second;
  if (auto t = parse_rfc3339(last); t && *t > started_) trigger_times_.push_back(*t);
}

std::vector<std::chrono::system_clock::time_point> ClusterStateFeed::take_trigger_times() {
  std::lock_guard lock(mu_);
  return std::exchange(trigger_times_, {});
}

std::optional<api::Node> ClusterStateFeed::node() {
  std::lock_guard lock(mu_);
  return node_;
}

}  // namespace switchyard::node
