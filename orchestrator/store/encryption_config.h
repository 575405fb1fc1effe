// kube-apiserver's --encryption-provider-config file (kind EncryptionConfiguration,
// apiserver.config.k8s.io/v1): per list of resources, providers in order, each with its keys.
//
//   resources:
//     - resources: [secrets]
//       providers:
//         - aesgcm: {keys: [{name: key2, secret: <base64 of 16, 24 or 32 bytes>}, {name: key1, ...}]}
//         - aescbc: {keys: [...]}        # 16, 24 or 32 bytes
//         - secretbox: {keys: [...]}     # 32 bytes
//         - identity: {}
//
// The first key of the first provider writes; every key of every provider reads.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "orchestrator/base/error.h"
#include "orchestrator/store/value_transformer.h"

namespace switchyard::store {

// group_resource ("secrets", "configmaps", "deployments.apps") → its providers.
using EncryptionConfig = std::map<std::string, std::shared_ptr<const TransformerChain>, std::less<>>;

// Parses and validates the file's text; errors use kube-apiserver's field paths
// ("resources[0].providers[0].aesgcm.keys[0].secret: ...") and never show a secret.
Result<EncryptionConfig> parse_encryption_config(std::string_view yaml_text);
Result<EncryptionConfig> load_encryption_config(const std::string& path);

}  // namespace switchyard::store
