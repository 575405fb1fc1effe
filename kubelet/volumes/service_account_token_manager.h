// The kubelet's token manager (pkg/kubelet/token): service-account tokens for projected
// serviceAccountToken volumes, asked of the TokenRequest API bound to the pod, cached by
// (ServiceAccount, audience, lifetime, pod uid) and asked again once 80% of the lifetime has
// passed or the token is 24 h old (less a small jitter, so that many pods do not renew at once).
// A failed renewal keeps serving the cached token until it expires. A deleted pod's tokens are
// forgotten.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "orchestrator/base/error.h"

namespace switchyard::kubelet {

struct PodTokenRequest {
  std::string ns, service_account;
  std::string audience;  // empty: the API server's own audiences
  std::int64_t expiration_seconds = 3600;
  std::string pod_name, pod_uid;  // the boundObjectRef
  bool operator==(const PodTokenRequest&) const = default;
};

struct IssuedToken {
  std::string token;
  std::chrono::system_clock::time_point expires;
  std::int64_t expiration_seconds = 0;  // the lifetime the API server granted
};

class ServiceAccountTokenManager {
 public:
  using Fetch = std::function<Result<IssuedToken>(const PodTokenRequest&)>;
  using Clock = std::function<std::chrono::system_clock::time_point()>;
  // `max_jitter`: how much earlier than its due time a token may be renewed (0 in tests).
  explicit ServiceAccountTokenManager(Fetch fetch, Clock now = {}, std::chrono::seconds max_jitter = std::chrono::seconds(10));

  Result<std::string> token(const PodTokenRequest& request);
  // The pod is gone: its tokens are never served again.
  void forget_pod(const std::string& pod_uid);
  std::size_t cached() const;

 private:
  bool requires_refresh(const IssuedToken& t, std::chrono::system_clock::time_point now) const;

  Fetch fetch_;
  Clock now_;
  std::chrono::seconds max_jitter_;
  mutable std::mutex mu_;
  struct Entry {
    std::string pod_uid;
    IssuedToken issued;
  };
  std::map<std::string, Entry> cache_;
};

}  // namespace switchyard::kubelet
