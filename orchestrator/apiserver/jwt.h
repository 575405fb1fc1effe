// Signed JSON Web Tokens (RFC 7519, compact JWS) with the service-account key, as
// kube-apiserver's --service-account-signing-key-file and --service-account-key-file use them:
// RS256 for an RSA key, ES256 for an EC P-256 key; the header's kid is the key's id as upstream
// computes it (base64url of the SHA-256 of the public key's DER). OpenSSL does the crypto.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "orchestrator/base/error.h"

namespace switchyard::apiserver {

struct JwtKey;  // an OpenSSL key with its algorithm and id

class JwtSigner {
 public:
  // A PEM private key (RSA or EC P-256).
  static Result<JwtSigner> load(const std::filesystem::path& private_key_pem);
  Result<std::string> sign(const nlohmann::json& claims) const;
  // The public half, to verify what this signs.
  const std::shared_ptr<const JwtKey>& key() const { return key_; }

 private:
  std::shared_ptr<const JwtKey> key_;
};

class JwtVerifier {
 public:
  // Every public key in a PEM file (public keys, or private keys whose public half is meant).
  Result<void> add_keys(const std::filesystem::path& pem_file);
  void add_key(std::shared_ptr<const JwtKey> key) { keys_.push_back(std::move(key)); }
  bool empty() const { return keys_.empty(); }
  // The claims of a token one of the keys signed; the error says why not (never the token).
  Result<nlohmann::json> verify(std::string_view token) const;

 private:
  std::vector<std::shared_ptr<const JwtKey>> keys_;
};

// Whether a bearer token has a JWT's shape (three base64url parts): only those go to the verifier.
bool looks_like_jwt(std::string_view token);

// kube-apiserver's key for `switchyard up`: an RSA 2048 key in `path` (0600), made when absent.
Result<void> ensure_service_account_key(const std::filesystem::path& path);

}  // namespace switchyard::apiserver
