#include "orchestrator/controllers/token_cleaner.h"

#include <chrono>

#include <spdlog/spdlog.h>

#include "orchestrator/api/protobuf_values.h"
#include "orchestrator/api/rfc3339.h"
#include "orchestrator/client/rest.h"

namespace switchyard::controllers {

namespace {

constexpr const char* kNamespace = "kube-system";
constexpr const char* kType = "bootstrap.kubernetes.io/token";

long long now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

std::optional<long long> bootstrap_token_seconds_left(const api::Secret& secret, long long now) {
  if (secret.type != kType || secret.metadata.namespace_ != kNamespace) return std::nullopt;
  auto it = secret.data.find("expiration");
  if (it == secret.data.end()) return std::nullopt;
  std::string text;
  if (!api::protobuf::values::base64_decode(it->second, text)) return 0;
  if (text.empty()) return std::nullopt;
  const auto at = api::parse_rfc3339_seconds(text);
  if (!at) return 0;  // unparseable: expired, as upstream's GetExpiration
  return *at - now;
}

struct TokenCleaner::Handlers {
  TokenCleaner& c;
  std::uint64_t secrets = 0;
  ~Handlers() { c.secrets_.remove_event_handler(secrets); }
};

TokenCleaner::TokenCleaner(client::SharedInformerFactory& informers, client::ClusterConnection connection)
    : informers_(informers), connection_(std::move(connection)), secrets_(informers.informer<api::Secret>()) {
  handlers_ = std::make_unique<Handlers>(Handlers{*this});
  auto on_secret = [this](const client::ObjectPtr<api::Secret>& s) {
    if (s->metadata.namespace_ == kNamespace && s->type == kType) queue_.add(s->metadata.namespace_ + "/" + s->metadata.name);
  };
  handlers_->secrets = secrets_.add_event_handler({on_secret, [on_secret](const auto&, const auto& s) { on_secret(s); }, {}, {}});
}

TokenCleaner::~TokenCleaner() { stop(); }

void TokenCleaner::start() {
  informers_.start();
  worker_ = std::thread([this] { worker(); });
}

void TokenCleaner::stop() {
  stopping_ = true;
  queue_.shut_down();
  if (worker_.joinable()) worker_.join();
}

void TokenCleaner::worker() {
  while (!stopping_ && !informers_.wait_for_cache_sync(std::chrono::seconds(1), &stopping_)) {
  }
  if (stopping_) return;
  client::ApiClient api(connection_);
  while (auto key = queue_.get()) {
    if (auto synced = sync_secret(*key, api); synced) {
      queue_.forget(*key);
    } else {
      queue_.add_rate_limited(*key);
      spdlog::info("event=token_cleaner_requeued secret={} error=\"{}\"", *key, synced.error().describe());
    }
    queue_.done(*key);
  }
}

Result<void> TokenCleaner::sync_secret(const std::string& key, client::ApiClient& api) {
  const auto secret = secrets_.indexer().get(key);
  if (!secret || secret->metadata.deletion_timestamp) return {};
  const auto left = bootstrap_token_seconds_left(*secret, now_seconds());
  if (!left) return {};
  if (*left > 0) {
    queue_.add_after(key, std::chrono::seconds(*left));  // looked at again when it expires
    return {};
  }
  auto gone = client::remove<api::Secret>(api, secret->metadata.namespace_, secret->metadata.name);
  if (!gone && gone.error().code != ErrorCode::NotFound) return fail(gone.error());
  spdlog::info("event=bootstrap_token_deleted secret={} reason=expired", key);
  return {};
}

}  // namespace switchyard::controllers
