#include "orchestrator/controllers/node_dns_endpoints.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "orchestrator/client/rest.h"

namespace switchyard::controllers {

namespace {

constexpr const char* kNamespace = "kube-system";
constexpr const char* kKey = "kube-system/kube-dns-nodes";  // the only key
constexpr const char* kServiceNameLabel = "kubernetes.io/service-name";
constexpr const char* kManagedByLabel = "endpointslice.kubernetes.io/managed-by";

// The Node's first InternalIP that is IPv4 (the kube-dns Service is IPv4).
std::optional<std::string> internal_ipv4(const api::Node& n) {
  for (const auto& a : n.addresses)
    if (a.type == "InternalIP" && a.address.find(':') == std::string::npos && !a.address.empty()) return a.address;
  return std::nullopt;
}

bool labels_match(const api::EndpointSlice& s) {
  const auto& l = s.metadata.labels;
  auto is = [&](const char* k, const char* v) { return l.contains(k) && l.at(k) == v; };
  return is(kServiceNameLabel, "kube-dns") && is(kManagedByLabel, kNodeDnsManagedBy);
}

}  // namespace

api::EndpointSlice desired_node_dns_slice(const std::vector<client::ObjectPtr<api::Node>>& nodes) {
  api::EndpointSlice s;
  s.metadata.name = kNodeDnsSliceName;
  s.metadata.namespace_ = kNamespace;
  s.metadata.labels = {{kServiceNameLabel, "kube-dns"}, {kManagedByLabel, kNodeDnsManagedBy}};
  s.address_type = "IPv4";
  for (const auto& n : nodes) {
    if (n->metadata.deletion_timestamp) continue;
    auto ip = internal_ipv4(*n);
    if (!ip) continue;
    api::SliceEndpoint e;
    e.addresses = {*ip};
    e.node_name = n->metadata.name;
    e.conditions = {.ready = true, .serving = true};
    s.endpoints.push_back(std::move(e));
  }
  std::sort(s.endpoints.begin(), s.endpoints.end(), [](const auto& a, const auto& b) { return *a.node_name < *b.node_name; });
  s.ports = {{.name = "dns", .protocol = "UDP", .port = 53}, {.name = "dns-tcp", .protocol = "TCP", .port = 53}};
  return s;
}

struct NodeDnsEndpointsController::Handlers {
  NodeDnsEndpointsController& c;
  std::uint64_t nodes = 0, slices = 0;
  ~Handlers() {
    c.nodes_.remove_event_handler(nodes);
    c.slices_.remove_event_handler(slices);
  }
};

NodeDnsEndpointsController::NodeDnsEndpointsController(client::SharedInformerFactory& informers, client::ClusterConnection connection)
    : informers_(informers),
      connection_(std::move(connection)),
      nodes_(informers.informer<api::Node>()),
      slices_(informers.informer<api::EndpointSlice>()) {
  handlers_ = std::make_unique<Handlers>(Handlers{*this});
  // Any Node change may change the slice (Node status updates are frequent: the sync compares
  // with the cache and writes nothing when nothing changed).
  auto on_node = [this](const auto&) { queue_.add(kKey); };
  handlers_->nodes = nodes_.add_event_handler(
      {on_node, [on_node](const auto&, const auto& n) { on_node(n); }, [on_node](const auto& n, bool) { on_node(n); }, {}});
  auto on_slice = [this](const client::ObjectPtr<api::EndpointSlice>& s) {
    if (s->metadata.namespace_ == kNamespace && (s->metadata.name == kNodeDnsSliceName || s->metadata.name == kLegacyNodeDnsSliceName))
      queue_.add(kKey);
  };
  handlers_->slices = slices_.add_event_handler(
      {on_slice, [on_slice](const auto&, const auto& s) { on_slice(s); }, [on_slice](const auto& s, bool) { on_slice(s); }, {}});
}

NodeDnsEndpointsController::~NodeDnsEndpointsController() { stop(); }

void NodeDnsEndpointsController::start() {
  informers_.start();
  worker_ = std::thread([this] { worker(); });
}

void NodeDnsEndpointsController::stop() {
  stopping_ = true;
  queue_.shut_down();
  if (worker_.joinable()) worker_.join();
}

void NodeDnsEndpointsController::worker() {
  while (!stopping_ && !informers_.wait_for_cache_sync(std::chrono::seconds(1), &stopping_)) {
  }
  if (stopping_) return;
  client::ApiClient api(connection_);
  queue_.add(kKey);  // the legacy slice goes even in a cluster whose Nodes never change
  while (auto key = queue_.get()) {
    if (auto synced = sync(api); synced) {
      queue_.forget(*key);
    } else {
      queue_.add_rate_limited(*key);
      spdlog::info("event=node_dns_slice_requeued error=\"{}\"", synced.error().describe());
    }
    queue_.done(*key);
  }
}

Result<void> NodeDnsEndpointsController::sync(client::ApiClient& api) {
  if (auto legacy = slices_.indexer().get(std::string(kNamespace) + "/" + kLegacyNodeDnsSliceName);
      legacy && legacy->metadata.labels.contains(kManagedByLabel) && legacy->metadata.labels.at(kManagedByLabel) == "switchyard-up") {
    auto gone = client::remove<api::EndpointSlice>(api, kNamespace, kLegacyNodeDnsSliceName);
    if (!gone && gone.error().code != ErrorCode::NotFound) return fail(gone.error());
    spdlog::info("event=node_dns_legacy_slice_deleted slice={}/{}", kNamespace, kLegacyNodeDnsSliceName);
  }
  auto want = desired_node_dns_slice(nodes_.indexer().list());
  const auto existing = slices_.indexer().get(kKey);
  if (existing && labels_match(*existing) && existing->address_type == want.address_type && existing->endpoints == want.endpoints &&
      existing->ports == want.ports)
    return {};
  if (existing) {
    // Keep what others put on it (annotations, other labels); ours win.
    auto meta = existing->metadata;
    for (auto& [k, v] : want.metadata.labels) meta.labels[k] = v;
    want.metadata = std::move(meta);
  }
  auto written = existing ? client::update(api, want) : client::create(api, want);
  if (!written) return fail(written.error());  // a conflict or a create race: the watch brings the news, the retry fixes it
  spdlog::info("event=node_dns_slice_written slice={} endpoints={}", kKey, want.endpoints.size());
  return {};
}

}  // namespace switchyard::controllers
