// POST .../serviceaccounts/NAME/token for a pod's projected token (authentication.k8s.io/v1
// TokenRequest bound to the Pod by name and uid), as the kubelet's token manager fetches it.
#pragma once

#include "kubelet/volumes/service_account_token_manager.h"
#include "orchestrator/client/api_client.h"

namespace switchyard::kubelet {

Result<IssuedToken> request_pod_token(client::ApiClient& api, const PodTokenRequest& request);

}  // namespace switchyard::kubelet
