// Secret write and read throughput with encryption at rest (aesgcm) against identity, in the
// same run: the API server's storage path (ObjectRegistry: decode, validate, encode, store) on
// SQLite, once with an EncryptingStore in front of it and once without. Also the store alone,
// which shows the cost of the crypto itself.
//
//   build/bench/secret_encryption_bench [--secrets N] [--bytes B] [--rounds R]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "orchestrator/apiserver/object_registry.h"
#include "orchestrator/apiserver/resources.h"
#include "orchestrator/store/encrypting_store.h"
#include "orchestrator/store/sqlite_store.h"
#include "orchestrator/store/store_test_support.h"

using namespace switchyard;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kAesGcmConfig = R"(apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets]
    providers:
      - aesgcm: {keys: [{name: key1, secret: MTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTE=}]}
      - identity: {}
)";
constexpr const char* kIdentityConfig = R"(apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets]
    providers:
      - identity: {}
)";

struct Figures {
  double create_per_s, get_per_s, update_per_s, list_per_s;
};

double per_second(std::size_t n, Clock::time_point start) { return n / std::chrono::duration<double>(Clock::now() - start).count(); }

std::unique_ptr<store::Store> open_store(const std::filesystem::path& db, const char* config) {
  auto sqlite = store::SqliteStore::open(db.string());
  if (!sqlite) {
    std::fprintf(stderr, "error: %s\n", sqlite.error().message.c_str());
    std::exit(1);
  }
  auto parsed = store::parse_encryption_config(config);
  if (!parsed) {
    std::fprintf(stderr, "error: %s\n", parsed.error().message.c_str());
    std::exit(1);
  }
  return std::make_unique<store::EncryptingStore>(std::move(*sqlite), std::move(*parsed));
}

Figures run_registry(store::Store& s, int secrets, int bytes, int round) {
  apiserver::ObjectRegistry registry(s, api::ClusterNetworkConfig{});
  const auto* ns_resource = apiserver::find_resource("", "v1", "namespaces");
  const auto* secret_resource = apiserver::find_resource("", "v1", "secrets");
  std::vector<std::string> warnings;
  const std::string ns = fmt::format("bench-{}", round);
  if (!registry.create(*ns_resource, "", {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}},
                       apiserver::FieldValidation::Strict, warnings)) {
    std::fprintf(stderr, "error: creating namespace %s\n", ns.c_str());
    std::exit(1);
  }
  // base64 of `bytes` bytes.
  const std::string value(static_cast<std::size_t>((bytes + 2) / 3 * 4), 'A');
  auto secret = [&](int i, const std::string& v) {
    return apiserver::Json{{"apiVersion", "v1"},
                           {"kind", "Secret"},
                           {"metadata", {{"name", fmt::format("s{}", i)}, {"namespace", ns}}},
                           {"type", "Opaque"},
                           {"data", {{"password", v}}}};
  };
  Figures f{};
  auto start = Clock::now();
  for (int i = 0; i < secrets; ++i)
    if (!registry.create(*secret_resource, ns, secret(i, value), apiserver::FieldValidation::Strict, warnings)) std::exit(2);
  f.create_per_s = per_second(secrets, start);
  start = Clock::now();
  for (int i = 0; i < secrets; ++i)
    if (!registry.get(*secret_resource, ns, fmt::format("s{}", i))) std::exit(3);
  f.get_per_s = per_second(secrets, start);
  start = Clock::now();
  const std::string changed(value.size(), 'B');
  for (int i = 0; i < secrets; ++i)
    if (!registry.update(*secret_resource, ns, fmt::format("s{}", i), secret(i, changed), false, apiserver::FieldValidation::Strict,
                         warnings))
      std::exit(4);
  f.update_per_s = per_second(secrets, start);
  start = Clock::now();
  constexpr int kLists = 20;
  for (int i = 0; i < kLists; ++i)
    if (!registry.list(*secret_resource, ns, {})) std::exit(5);
  f.list_per_s = per_second(static_cast<std::size_t>(kLists) * secrets, start);  // Secrets listed per second
  return f;
}

// The providers alone: seal and open of one stored Secret value, per second.
void run_providers(int bytes) {
  const std::string value(static_cast<std::size_t>(bytes) + 200, 'x');  // about a stored Secret's JSON
  const std::pair<const char*, std::string> providers[] = {
      {"identity", "      - identity: {}\n"},
      {"aesgcm", "      - aesgcm: {keys: [{name: k, secret: MTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTE=}]}\n"},
      {"aescbc", "      - aescbc: {keys: [{name: k, secret: MTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTE=}]}\n"},
      {"secretbox", "      - secretbox: {keys: [{name: k, secret: MTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTE=}]}\n"},
  };
  constexpr int kOps = 100000;
  std::printf("providers alone, %zu-byte values, %d seals and opens each:\n", value.size(), kOps);
  for (const auto& [name, text] : providers) {
    auto config =
        store::parse_encryption_config(std::string("apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n  - "
                                                   "resources: [secrets]\n    providers:\n") +
                                       text);
    if (!config) std::exit(6);
    const auto& chain = *config->at("secrets");
    auto start = Clock::now();
    std::string sealed;
    for (int i = 0; i < kOps; ++i) sealed = *chain.to_storage(value, "/registry/secrets/ns/name");
    const double seal = per_second(kOps, start);
    start = Clock::now();
    for (int i = 0; i < kOps; ++i)
      if (!chain.from_storage(sealed, "/registry/secrets/ns/name")) std::exit(7);
    std::printf("  %-9s seal %9.0f/s  open %9.0f/s\n", name, seal, per_second(kOps, start));
  }
}

int arg(int argc, char** argv, const char* name, int fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == name) return std::atoi(argv[i + 1]);
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  const int secrets = arg(argc, argv, "--secrets", 2000);
  const int bytes = arg(argc, argv, "--bytes", 1024);
  const int rounds = arg(argc, argv, "--rounds", 3);
  run_providers(bytes);
  store::testing::TempDir dir;
  std::printf("Secrets of %d bytes, %d per round, %d rounds, alternating identity and aesgcm (ObjectRegistry on SQLite)\n", bytes, secrets,
              rounds);
  std::printf("%-9s %5s %12s %12s %12s %14s\n", "provider", "round", "create/s", "get/s", "update/s", "listed/s");
  std::vector<Figures> results[2];
  for (int round = 0; round < rounds; ++round)
    for (int which = 0; which < 2; ++which) {
      const char* name = which == 0 ? "identity" : "aesgcm";
      auto s = open_store(dir.path() / fmt::format("{}-{}.db", name, round), which == 0 ? kIdentityConfig : kAesGcmConfig);
      const Figures f = run_registry(*s, secrets, bytes, round);
      results[which].push_back(f);
      std::printf("%-9s %5d %12.0f %12.0f %12.0f %14.0f\n", name, round, f.create_per_s, f.get_per_s, f.update_per_s, f.list_per_s);
    }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  auto column = [&](int which, double Figures::*field) {
    std::vector<double> v;
    for (const auto& f : results[which]) v.push_back(f.*field);
    return median(v);
  };
  std::printf("median aesgcm/identity: create %.2f, get %.2f, update %.2f, list %.2f\n",
              column(1, &Figures::create_per_s) / column(0, &Figures::create_per_s),
              column(1, &Figures::get_per_s) / column(0, &Figures::get_per_s),
              column(1, &Figures::update_per_s) / column(0, &Figures::update_per_s),
              column(1, &Figures::list_per_s) / column(0, &Figures::list_per_s));
  return 0;
}
