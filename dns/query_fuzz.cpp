// libFuzzer entry point: any datagram through query parsing and the cluster zone's answer,
// then the response parsed back. Must never crash or read out of bounds; a response we
// write must always be a message we can read.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "dns/cluster_zone.h"
#include "dns/wire.h"
#include "orchestrator/api/defaults.h"

namespace {

std::shared_ptr<const switchyard::endpoints::Snapshot> fixture() {
  using namespace switchyard;
  endpoints::ClusterState state({});
  api::Service web;
  web.metadata = {.name = "web", .namespace_ = "shop"};
  web.spec.cluster_ip = "10.96.0.10";
  web.spec.ports = {api::ServicePort{.name = "http", .port = 80}};
  api::apply_defaults(web, {});
  api::Service db = web;
  db.metadata.name = "db";
  db.spec.cluster_ip = "None";
  db.spec.cluster_ips.clear();
  state.upsert(web);
  state.upsert(db);
  api::EndpointSlice s;
  s.metadata = {.name = "db-1", .namespace_ = "shop", .labels = {{"kubernetes.io/service-name", "db"}}};
  s.address_type = "IPv4";
  s.endpoints = {api::SliceEndpoint{.addresses = {"10.1.0.5"}, .hostname = "db-0"}};
  s.ports = {api::SlicePort{.name = "http", .protocol = "TCP", .port = 8080}};
  state.upsert(s);
  return state.build();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace switchyard::dns;
  static const auto snapshot = fixture();
  static const ClusterZone zone({.pods = PodRecords::Insecure});
  auto q = parse_query({data, size});
  if (!q) return 0;
  std::vector<std::uint8_t> buf(q->edns ? 4096 : 512);
  ResponseWriter w(buf, buf.size());
  if (zone.is_authoritative_for(q->name))
    zone.answer(snapshot.get(), *q, w);
  else
    w.begin(*q, kRefused, false);
  auto out = w.finish();
  std::size_t at = 12;
  std::string name;
  if (out.size() < 12 || !read_name(out, at, name)) __builtin_trap();
  return 0;
}
