// Encryption at rest: each provider on its own, key rotation through the config, the config
// file's errors, and the EncryptingStore over real SQLite and etcd backends.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "orchestrator/store/encrypting_store.h"
#include "orchestrator/store/encryption_config.h"
#include "orchestrator/store/etcd_process.h"
#include "orchestrator/store/etcd_store.h"
#include "orchestrator/store/sqlite_store.h"
#include "orchestrator/store/store_test_support.h"

namespace switchyard::store {
namespace {

constexpr std::string_view kKey = "/registry/secrets/default/db";
constexpr std::string_view kPlain = R"({"kind":"Secret","data":{"password":"aHVudGVyMg=="}})";

// base64 of 16 / 32 bytes of 'a' and 'b'.
constexpr const char* k16a = "YWFhYWFhYWFhYWFhYWFhYQ==";
constexpr const char* k32a = "YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE=";
constexpr const char* k32b = "YmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmI=";

std::string config(std::string_view providers) {
  return fmt::format(
      "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
      "  - resources: [secrets]\n    providers:\n{}",
      providers);
}

std::shared_ptr<const TransformerChain> chain(std::string_view providers) {
  auto c = parse_encryption_config(config(providers));
  EXPECT_TRUE(c) << c.error().message;
  return c ? c->at("secrets") : nullptr;
}

struct ProviderCase {
  const char* name;
  std::string providers;
  std::string prefix;
};

class ProviderTest : public ::testing::TestWithParam<ProviderCase> {};

TEST_P(ProviderTest, RoundTripsWithTheUpstreamPrefixAndHidesThePlaintext) {
  auto c = chain(GetParam().providers);
  auto stored = c->to_storage(kPlain, kKey);
  ASSERT_TRUE(stored) << stored.error().message;
  EXPECT_TRUE(stored->starts_with(GetParam().prefix)) << *stored;
  EXPECT_EQ(stored->find("aHVudGVyMg"), std::string::npos);
  EXPECT_EQ(stored->find("Secret"), std::string::npos);
  // A fresh nonce or IV per write: two writes of one value differ.
  EXPECT_NE(*stored, *c->to_storage(kPlain, kKey));
  auto back = c->from_storage(*stored, kKey);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, kPlain);
}

TEST_P(ProviderTest, AFlippedByteIsRefused) {
  auto c = chain(GetParam().providers);
  auto stored = *c->to_storage(kPlain, kKey);
  stored[stored.size() - 1] ^= 0x01;
  EXPECT_FALSE(c->from_storage(stored, kKey));
}

INSTANTIATE_TEST_SUITE_P(
    Providers, ProviderTest,
    ::testing::Values(
        ProviderCase{"aesgcm128", fmt::format("      - aesgcm: {{keys: [{{name: k1, secret: {}}}]}}\n", k16a), "k8s:enc:aesgcm:v1:k1:"},
        ProviderCase{"aesgcm256", fmt::format("      - aesgcm: {{keys: [{{name: k2, secret: {}}}]}}\n", k32a), "k8s:enc:aesgcm:v1:k2:"},
        ProviderCase{"aescbc", fmt::format("      - aescbc: {{keys: [{{name: cbc, secret: {}}}]}}\n", k32a), "k8s:enc:aescbc:v1:cbc:"},
        ProviderCase{"secretbox", fmt::format("      - secretbox: {{keys: [{{name: box, secret: {}}}]}}\n", k32b),
                     "k8s:enc:secretbox:v1:box:"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(AesGcm, TheStorageKeyIsAuthenticated) {
  auto c = chain(fmt::format("      - aesgcm: {{keys: [{{name: k1, secret: {}}}]}}\n", k32a));
  auto stored = *c->to_storage(kPlain, kKey);
  auto moved = c->from_storage(stored, "/registry/secrets/default/other");
  ASSERT_FALSE(moved);
  EXPECT_NE(moved.error().message.find("not authentic"), std::string::npos) << moved.error().message;
}

TEST(Identity, WritesPlaintextAndReadsIt) {
  auto c = chain("      - identity: {}\n");
  EXPECT_EQ(*c->to_storage(kPlain, kKey), kPlain);
  EXPECT_EQ(*c->from_storage(kPlain, kKey), kPlain);
}

TEST(KeyRotation, TheFirstKeyWritesAndEveryKeyReads) {
  const auto old_keys = fmt::format("      - aesgcm: {{keys: [{{name: old, secret: {}}}]}}\n      - identity: {{}}\n", k32a);
  const auto rotated =
      fmt::format("      - aesgcm: {{keys: [{{name: new, secret: {}}}, {{name: old, secret: {}}}]}}\n      - identity: {{}}\n", k32b, k32a);
  const auto written_old = *chain(old_keys)->to_storage(kPlain, kKey);
  auto c = chain(rotated);
  // Written with the old key, and before encryption was on at all: both still read, as stale.
  bool stale = false;
  EXPECT_EQ(*c->from_storage(written_old, kKey, &stale), kPlain);
  EXPECT_TRUE(stale);
  stale = false;
  EXPECT_EQ(*c->from_storage(kPlain, kKey, &stale), kPlain);
  EXPECT_TRUE(stale);
  // Written now: with the new key, which the old configuration cannot read.
  const auto written_new = *c->to_storage(kPlain, kKey);
  EXPECT_EQ(*c->from_storage(written_new, kKey, &stale), kPlain);
  EXPECT_FALSE(stale);
  EXPECT_TRUE(written_new.starts_with("k8s:enc:aesgcm:v1:new:"));
  auto unreadable = chain(old_keys)->from_storage(written_new, kKey);
  ASSERT_FALSE(unreadable);
  EXPECT_NE(unreadable.error().message.find("k8s:enc:aesgcm:v1:new:"), std::string::npos) << unreadable.error().message;
}

TEST(KeyRotation, WithoutIdentityPlaintextIsRefused) {
  auto c = chain(fmt::format("      - secretbox: {{keys: [{{name: box, secret: {}}}]}}\n", k32b));
  auto r = c->from_storage(kPlain, kKey);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("identity is not a configured provider"), std::string::npos);
}

TEST(EncryptionConfig, BadFilesSayWhatAndWhere) {
  const std::pair<std::string, std::string> cases[] = {
      {config(fmt::format("      - aesgcm: {{keys: [{{name: k, secret: {}}}]}}\n", "c2hvcnQ=")),
       "resources[0].providers[0].aesgcm.keys[0].secret: Invalid value: \"REDACTED\": secret is not of the expected length, got 5, "
       "expected one of [16 24 32]"},
      {config(fmt::format("      - secretbox: {{keys: [{{name: k, secret: {}}}]}}\n", k16a)),
       "resources[0].providers[0].secretbox.keys[0].secret: Invalid value: \"REDACTED\": secret is not of the expected length, got 16, "
       "expected one of [32]"},
      {config("      - aescbc: {keys: [{name: k, secret: '!!notbase64'}]}\n"), "secrets must be base64 encoded"},
      {config("      - aescbc: {keys: []}\n"), "resources[0].providers[0].aescbc.keys: Required value"},
      {config("      - kms: {name: x}\n"), "the kms provider is not supported"},
      {config(fmt::format("      - aesgcm: {{keys: [{{secret: {}}}]}}\n", k16a)), "keys[0].name: Required value"},
      {config(fmt::format("      - {{identity: {{}}, aesgcm: {{keys: [{{name: a, secret: {}}}]}}}}\n", k16a)), "exactly one provider"},
      {"apiVersion: v1\nkind: ConfigMap\n", "expected kind EncryptionConfiguration"},
      {"resources: [", "not YAML"},
  };
  for (const auto& [text, want] : cases) {
    auto c = parse_encryption_config(text);
    ASSERT_FALSE(c) << text;
    EXPECT_NE(c.error().message.find(want), std::string::npos) << c.error().message;
    EXPECT_EQ(c.error().message.find(k16a), std::string::npos);
  }
}

TEST(EncryptionConfig, AMissingFileIsNamed) {
  auto c = load_encryption_config("/nonexistent/enc.yaml");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().message, "--encryption-provider-config /nonexistent/enc.yaml: cannot read the file");
}

EncryptionConfig aesgcm_config() {
  return *parse_encryption_config(config(fmt::format("      - aesgcm: {{keys: [{{name: k1, secret: {}}}]}}\n", k32a)));
}

// What a user of the store sees is plaintext; what the backend holds is not.
void exercise(Store& s, const std::string& prefix) {
  const auto key = "/registry/secrets/" + prefix + "/db";
  const auto cm_key = "/registry/configmaps/" + prefix + "/cfg";
  testing::EventRecorder events;
  auto rev = s.current_revision();
  ASSERT_TRUE(rev);
  auto w = s.watch("/registry/secrets/" + prefix + "/", *rev, events.callback());
  ASSERT_TRUE(w);
  auto created = s.create(key, kPlain);
  ASSERT_TRUE(created) << created.error().message;
  ASSERT_TRUE(s.create(cm_key, "plain configmap"));
  EXPECT_EQ((*s.get(key))->value, kPlain);
  auto listed = s.list("/registry/secrets/" + prefix + "/", 0, "");
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->items.size(), 1u);
  EXPECT_EQ(listed->items[0].value, kPlain);
  ASSERT_TRUE(s.update(key, "v2", *created));
  ASSERT_TRUE(events.wait_for(2));
  EXPECT_EQ(events.events()[0].kv.value, kPlain);
  EXPECT_EQ(events.events()[1].kv.value, "v2");
  EXPECT_EQ(events.events()[1].prev_kv->value, kPlain);
  auto removed = s.remove(key, 0);
  ASSERT_TRUE(removed);
  EXPECT_EQ(removed->deleted.value, "v2");
}

TEST(EncryptingStore, SqliteFileHoldsNoPlaintextSecret) {
  testing::TempDir dir;
  const auto db = (dir.path() / "store.db").string();
  {
    auto inner = SqliteStore::open(db);
    ASSERT_TRUE(inner);
    EncryptingStore s(std::move(*inner), aesgcm_config());
    exercise(s, "ns1");
    ASSERT_TRUE(s.create("/registry/secrets/ns1/kept", kPlain));
  }
  std::string bytes;
  for (const auto& f : std::filesystem::directory_iterator(dir.path())) {
    std::ifstream in(f.path(), std::ios::binary);
    bytes += std::string(std::istreambuf_iterator<char>(in), {});
  }
  EXPECT_NE(bytes.find("plain configmap"), std::string::npos);  // the file is readable as it is
  EXPECT_NE(bytes.find("k8s:enc:aesgcm:v1:k1:"), std::string::npos);
  EXPECT_EQ(bytes.find("aHVudGVyMg"), std::string::npos);
}

TEST(EncryptingStore, EtcdHoldsNoPlaintextSecret) {
  std::string error;
  auto etcd = testing::EtcdProcess::start(error);
  ASSERT_TRUE(etcd) << error;
  auto inner = EtcdStore::connect(etcd->client_url());
  auto raw = EtcdStore::connect(etcd->client_url());
  ASSERT_TRUE(inner && raw);
  EncryptingStore s(std::move(*inner), aesgcm_config());
  exercise(s, "ns2");
  ASSERT_TRUE(s.create("/registry/secrets/ns2/kept", kPlain));
  auto stored = (*raw)->get("/registry/secrets/ns2/kept");
  ASSERT_TRUE(stored && *stored);
  EXPECT_TRUE((*stored)->value.starts_with("k8s:enc:aesgcm:v1:k1:"));
  EXPECT_EQ((*stored)->value.find("aHVudGVyMg"), std::string::npos);
  EXPECT_EQ((*(*raw)->get("/registry/configmaps/ns2/cfg"))->value, "plain configmap");
}

}  // namespace
}  // namespace switchyard::store
