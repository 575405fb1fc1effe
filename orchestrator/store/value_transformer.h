// Encryption of stored values at rest, as kube-apiserver's EncryptionConfiguration providers do
// it (staging/src/k8s.io/apiserver/pkg/storage/value): each provider key writes values that
// start with "k8s:enc:<provider>:v1:<key name>:" followed by its ciphertext; identity writes the
// value as it is. The crypto comes from OpenSSL (AES-GCM, AES-CBC) and libsodium (secretbox).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "orchestrator/base/error.h"

namespace switchyard::store {

// One provider key (or identity). `context` is the storage key: AES-GCM authenticates it, so a
// value copied to another key does not decrypt.
class ValueTransformer {
 public:
  virtual ~ValueTransformer() = default;
  // "k8s:enc:aesgcm:v1:key1:"; "" for identity.
  virtual std::string_view prefix() const = 0;
  virtual Result<std::string> encrypt(std::string_view plaintext, std::string_view context) const = 0;
  // `ciphertext` is what follows the prefix.
  virtual Result<std::string> decrypt(std::string_view ciphertext, std::string_view context) const = 0;
};

// `key` is the raw key (the base64-decoded secret); sizes are checked by the config parser.
std::unique_ptr<ValueTransformer> make_aesgcm_transformer(std::string key_name, std::string key);
std::unique_ptr<ValueTransformer> make_aescbc_transformer(std::string key_name, std::string key);
std::unique_ptr<ValueTransformer> make_secretbox_transformer(std::string key_name, std::string key);
std::unique_ptr<ValueTransformer> make_identity_transformer();

// The providers of one resource, in the configured order: the first writes, every one reads.
class TransformerChain {
 public:
  explicit TransformerChain(std::vector<std::unique_ptr<ValueTransformer>> transformers);

  Result<std::string> to_storage(std::string_view plaintext, std::string_view key) const;
  // Picks the provider key by the value's prefix. A value written by a key that is no longer
  // configured (or an encrypted value when only identity reads) is an error naming the prefix.
  // `stale`: set when the value was not written by the first provider key.
  Result<std::string> from_storage(std::string_view stored, std::string_view key, bool* stale = nullptr) const;

 private:
  std::vector<std::unique_ptr<ValueTransformer>> transformers_;
};

}  // namespace switchyard::store
