#include "orchestrator/store/value_transformer.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sodium.h>

#include <fmt/format.h>

namespace switchyard::store {

namespace {

constexpr std::string_view kEncryptedPrefix = "k8s:enc:";

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

CipherCtx new_ctx() { return CipherCtx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free); }

const unsigned char* bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }
unsigned char* bytes(std::string& s, std::size_t at = 0) { return reinterpret_cast<unsigned char*>(s.data() + at); }

Result<void> random_bytes(std::string& out, std::size_t at, std::size_t n) {
  if (RAND_bytes(bytes(out, at), static_cast<int>(n)) != 1) return fail(ErrorCode::Internal, "no random bytes from OpenSSL");
  return {};
}

const EVP_CIPHER* aes_gcm(std::size_t key_size) {
  return key_size == 16 ? EVP_aes_128_gcm() : key_size == 24 ? EVP_aes_192_gcm() : EVP_aes_256_gcm();
}
const EVP_CIPHER* aes_cbc(std::size_t key_size) {
  return key_size == 16 ? EVP_aes_128_cbc() : key_size == 24 ? EVP_aes_192_cbc() : EVP_aes_256_cbc();
}

class ProviderKey : public ValueTransformer {
 public:
  ProviderKey(std::string_view provider, std::string key_name, std::string key)
      : prefix_(fmt::format("{}{}:v1:{}:", kEncryptedPrefix, provider, key_name)), key_(std::move(key)) {}
  std::string_view prefix() const override { return prefix_; }

 protected:
  Error broken(std::string_view what) const { return Error{ErrorCode::Internal, fmt::format("{} with {} failed", what, prefix_)}; }
  std::string prefix_, key_;
};

// nonce(12) | ciphertext | tag(16); the storage key is the additional authenticated data.
class AesGcm final : public ProviderKey {
 public:
  static constexpr std::size_t kNonce = 12, kTag = 16;
  AesGcm(std::string name, std::string key) : ProviderKey("aesgcm", std::move(name), std::move(key)) {}

  Result<std::string> encrypt(std::string_view plain, std::string_view context) const override {
    std::string out(kNonce + plain.size() + kTag, '\0');
    if (auto r = random_bytes(out, 0, kNonce); !r) return fail(r.error());
    auto ctx = new_ctx();
    int n = 0;
    if (!ctx || EVP_EncryptInit_ex(ctx.get(), aes_gcm(key_.size()), nullptr, nullptr, nullptr) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonce, nullptr) != 1 ||
        EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, bytes(key_), bytes(out)) != 1 ||
        EVP_EncryptUpdate(ctx.get(), nullptr, &n, bytes(context), static_cast<int>(context.size())) != 1 ||
        EVP_EncryptUpdate(ctx.get(), bytes(out, kNonce), &n, bytes(plain), static_cast<int>(plain.size())) != 1 ||
        EVP_EncryptFinal_ex(ctx.get(), bytes(out, kNonce + n), &n) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTag, bytes(out, kNonce + plain.size())) != 1)
      return fail(broken("encrypting"));
    return out;
  }

  Result<std::string> decrypt(std::string_view data, std::string_view context) const override {
    if (data.size() < kNonce + kTag) return fail(ErrorCode::Internal, fmt::format("the data under {} is too short", prefix_));
    const std::size_t size = data.size() - kNonce - kTag;
    std::string out(size, '\0');
    std::string tag(data.substr(kNonce + size));
    auto ctx = new_ctx();
    int n = 0, last = 0;
    if (!ctx || EVP_DecryptInit_ex(ctx.get(), aes_gcm(key_.size()), nullptr, nullptr, nullptr) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonce, nullptr) != 1 ||
        EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, bytes(key_), bytes(data)) != 1 ||
        EVP_DecryptUpdate(ctx.get(), nullptr, &n, bytes(context), static_cast<int>(context.size())) != 1 ||
        EVP_DecryptUpdate(ctx.get(), bytes(out), &n, bytes(data.substr(kNonce)), static_cast<int>(size)) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTag, tag.data()) != 1 ||
        EVP_DecryptFinal_ex(ctx.get(), bytes(out, n), &last) != 1)
      return fail(ErrorCode::Internal, fmt::format("decrypting with {}: the data is not authentic (wrong key or storage key)", prefix_));
    return out;
  }
};

// iv(16) | AES-CBC ciphertext with PKCS#7 padding.
class AesCbc final : public ProviderKey {
 public:
  static constexpr std::size_t kBlock = 16;
  AesCbc(std::string name, std::string key) : ProviderKey("aescbc", std::move(name), std::move(key)) {}

  Result<std::string> encrypt(std::string_view plain, std::string_view) const override {
    std::string out(kBlock + plain.size() + kBlock, '\0');
    if (auto r = random_bytes(out, 0, kBlock); !r) return fail(r.error());
    auto ctx = new_ctx();
    int n = 0, last = 0;
    if (!ctx || EVP_EncryptInit_ex(ctx.get(), aes_cbc(key_.size()), nullptr, bytes(key_), bytes(out)) != 1 ||
        EVP_EncryptUpdate(ctx.get(), bytes(out, kBlock), &n, bytes(plain), static_cast<int>(plain.size())) != 1 ||
        EVP_EncryptFinal_ex(ctx.get(), bytes(out, kBlock + n), &last) != 1)
      return fail(broken("encrypting"));
    out.resize(kBlock + n + last);
    return out;
  }

  Result<std::string> decrypt(std::string_view data, std::string_view) const override {
    if (data.size() < 2 * kBlock || data.size() % kBlock != 0)
      return fail(ErrorCode::Internal, fmt::format("the data under {} is not a whole number of blocks", prefix_));
    std::string out(data.size(), '\0');
    auto ctx = new_ctx();
    int n = 0, last = 0;
    if (!ctx || EVP_DecryptInit_ex(ctx.get(), aes_cbc(key_.size()), nullptr, bytes(key_), bytes(data)) != 1 ||
        EVP_DecryptUpdate(ctx.get(), bytes(out), &n, bytes(data.substr(kBlock)), static_cast<int>(data.size() - kBlock)) != 1 ||
        EVP_DecryptFinal_ex(ctx.get(), bytes(out, n), &last) != 1)
      return fail(ErrorCode::Internal, fmt::format("decrypting with {}: bad padding (wrong key)", prefix_));
    out.resize(n + last);
    return out;
  }
};

// nonce(24) | crypto_secretbox_easy (MAC(16) | ciphertext), the layout of Go's secretbox.Seal.
class Secretbox final : public ProviderKey {
 public:
  Secretbox(std::string name, std::string key) : ProviderKey("secretbox", std::move(name), std::move(key)) {}

  Result<std::string> encrypt(std::string_view plain, std::string_view) const override {
    // sodium_init is idempotent and thread-safe; it sets up the random source.
    static const bool ready = sodium_init() >= 0;
    if (!ready) return fail(ErrorCode::Internal, "libsodium failed to initialize");
    std::string out(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + plain.size(), '\0');
    randombytes_buf(out.data(), crypto_secretbox_NONCEBYTES);
    if (crypto_secretbox_easy(bytes(out, crypto_secretbox_NONCEBYTES), bytes(plain), plain.size(), bytes(out), bytes(key_)) != 0)
      return fail(broken("encrypting"));
    return out;
  }

  Result<std::string> decrypt(std::string_view data, std::string_view) const override {
    if (data.size() < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES)
      return fail(ErrorCode::Internal, fmt::format("the data under {} is too short", prefix_));
    const auto sealed = data.substr(crypto_secretbox_NONCEBYTES);
    std::string out(sealed.size() - crypto_secretbox_MACBYTES, '\0');
    if (crypto_secretbox_open_easy(bytes(out), bytes(sealed), sealed.size(), bytes(data), bytes(key_)) != 0)
      return fail(ErrorCode::Internal, fmt::format("decrypting with {}: the data is not authentic (wrong key)", prefix_));
    return out;
  }
};

class Identity final : public ValueTransformer {
 public:
  std::string_view prefix() const override { return ""; }
  Result<std::string> encrypt(std::string_view plain, std::string_view) const override { return std::string(plain); }
  Result<std::string> decrypt(std::string_view data, std::string_view) const override { return std::string(data); }
};

}  // namespace

std::unique_ptr<ValueTransformer> make_aesgcm_transformer(std::string name, std::string key) {
  return std::make_unique<AesGcm>(std::move(name), std::move(key));
}
std::unique_ptr<ValueTransformer> make_aescbc_transformer(std::string name, std::string key) {
  return std::make_unique<AesCbc>(std::move(name), std::move(key));
}
std::unique_ptr<ValueTransformer> make_secretbox_transformer(std::string name, std::string key) {
  return std::make_unique<Secretbox>(std::move(name), std::move(key));
}
std::unique_ptr<ValueTransformer> make_identity_transformer() { return std::make_unique<Identity>(); }

TransformerChain::TransformerChain(std::vector<std::unique_ptr<ValueTransformer>> transformers) : transformers_(std::move(transformers)) {}

Result<std::string> TransformerChain::to_storage(std::string_view plaintext, std::string_view key) const {
  const auto& first = *transformers_.front();
  auto sealed = first.encrypt(plaintext, key);
  if (!sealed) return fail(with_context(sealed.error(), key));
  return std::string(first.prefix()) + *sealed;
}

Result<std::string> TransformerChain::from_storage(std::string_view stored, std::string_view key, bool* stale) const {
  const bool encrypted = stored.starts_with(kEncryptedPrefix);
  for (const auto& t : transformers_) {
    if (stale) *stale = t != transformers_.front();
    if (t->prefix().empty()) {
      // identity reads only what no provider wrote.
      if (!encrypted) return std::string(stored);
      continue;
    }
    if (!stored.starts_with(t->prefix())) continue;
    auto opened = t->decrypt(stored.substr(t->prefix().size()), key);
    if (!opened) return fail(with_context(opened.error(), key));
    return opened;
  }
  if (!encrypted)
    return fail(ErrorCode::Internal, fmt::format("{}: the stored value is not encrypted and identity is not a configured provider", key));
  const auto end = stored.find(':', stored.find(":v1:") == std::string_view::npos ? kEncryptedPrefix.size() : stored.find(":v1:") + 4);
  return fail(ErrorCode::Internal, fmt::format("{}: no configured provider key reads data written with {}", key,
                                               stored.substr(0, end == std::string_view::npos ? kEncryptedPrefix.size() : end + 1)));
}

}  // namespace switchyard::store
