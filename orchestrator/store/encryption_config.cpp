#include "orchestrator/store/encryption_config.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <optional>
#include <set>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

namespace switchyard::store {

namespace {

Error invalid(const std::string& path, std::string_view message) { return Error{ErrorCode::Invalid, fmt::format("{}: {}", path, message)}; }

// Standard base64 with padding, as Go's base64.StdEncoding reads the key secrets.
std::optional<std::string> decode_base64(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) return std::nullopt;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const bool pad = c == '=' && i + 2 >= text.size();
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '/' && !pad) return std::nullopt;
  }
  std::string out(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  std::size_t padding = text.ends_with("==") ? 2 : text.ends_with('=') ? 1 : 0;
  out.resize(static_cast<std::size_t>(n) - padding);
  return out;
}

struct ProviderKind {
  std::string_view name;
  std::vector<std::size_t> key_sizes;
  std::unique_ptr<ValueTransformer> (*make)(std::string, std::string);
};

const std::vector<ProviderKind>& key_providers() {
  static const std::vector<ProviderKind> kinds{
      {"aesgcm", {16, 24, 32}, &make_aesgcm_transformer},
      {"aescbc", {16, 24, 32}, &make_aescbc_transformer},
      {"secretbox", {32}, &make_secretbox_transformer},
  };
  return kinds;
}

Result<void> add_keys(const ProviderKind& kind, const YAML::Node& node, const std::string& path,
                      std::vector<std::unique_ptr<ValueTransformer>>& out) {
  const auto keys = node.IsMap() ? node["keys"] : YAML::Node();
  if (!keys || !keys.IsSequence() || keys.size() == 0)
    return fail(invalid(path + ".keys", "Required value: at least one key must be specified"));
  std::set<std::string> names;
  for (std::size_t k = 0; k < keys.size(); ++k) {
    const auto key_path = fmt::format("{}.keys[{}]", path, k);
    const auto name = keys[k]["name"] ? keys[k]["name"].as<std::string>("") : "";
    const auto secret = keys[k]["secret"] ? keys[k]["secret"].as<std::string>("") : "";
    if (name.empty()) return fail(invalid(key_path + ".name", "Required value: key name is required"));
    if (name.find(':') != std::string::npos)
      return fail(invalid(key_path + ".name", fmt::format("Invalid value: \"{}\": should not contain ':'", name)));
    if (!names.insert(name).second) return fail(invalid(key_path + ".name", fmt::format("Duplicate value: \"{}\"", name)));
    if (secret.empty()) return fail(invalid(key_path + ".secret", "Required value: secret is required"));
    auto raw = decode_base64(secret);
    if (!raw) return fail(invalid(key_path + ".secret", "Invalid value: \"REDACTED\": secrets must be base64 encoded"));
    if (std::find(kind.key_sizes.begin(), kind.key_sizes.end(), raw->size()) == kind.key_sizes.end())
      return fail(invalid(key_path + ".secret",
                          fmt::format("Invalid value: \"REDACTED\": secret is not of the expected length, got {}, expected one of [{}]",
                                      raw->size(), fmt::join(kind.key_sizes, " "))));
    out.push_back(kind.make(name, std::move(*raw)));
  }
  return {};
}

Result<std::shared_ptr<const TransformerChain>> parse_providers(const YAML::Node& providers, const std::string& path) {
  if (!providers || !providers.IsSequence() || providers.size() == 0)
    return fail(invalid(path, "Required value: at least one provider must be specified"));
  std::vector<std::unique_ptr<ValueTransformer>> chain;
  for (std::size_t p = 0; p < providers.size(); ++p) {
    const auto provider_path = fmt::format("{}[{}]", path, p);
    const auto& provider = providers[p];
    if (!provider.IsMap() || provider.size() != 1)
      return fail(invalid(provider_path,
                          "Invalid value: exactly one provider must be specified in each element (aesgcm, aescbc, secretbox, identity)"));
    const auto type = provider.begin()->first.as<std::string>("");
    if (type == "identity") {
      chain.push_back(make_identity_transformer());
      continue;
    }
    const auto kind = std::find_if(key_providers().begin(), key_providers().end(), [&](const auto& k) { return k.name == type; });
    if (kind == key_providers().end()) {
      const auto why =
          type == "kms" ? "the kms provider is not supported" : "unknown provider; expected aesgcm, aescbc, secretbox or identity";
      return fail(invalid(provider_path + "." + type, fmt::format("Unsupported value: {}", why)));
    }
    if (auto added = add_keys(*kind, provider.begin()->second, provider_path + "." + type, chain); !added) return fail(added.error());
  }
  return std::make_shared<const TransformerChain>(std::move(chain));
}

}  // namespace

Result<EncryptionConfig> parse_encryption_config(std::string_view yaml_text) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    return fail(ErrorCode::Invalid, fmt::format("not YAML: {}", e.what()));
  }
  if (!root.IsMap()) return fail(ErrorCode::Invalid, "expected an EncryptionConfiguration object");
  const auto kind = root["kind"] ? root["kind"].as<std::string>("") : "";
  const auto api_version = root["apiVersion"] ? root["apiVersion"].as<std::string>("") : "";
  if (kind != "EncryptionConfiguration" || api_version != "apiserver.config.k8s.io/v1")
    return fail(
        ErrorCode::Invalid,
        fmt::format("got kind \"{}\" apiVersion \"{}\", expected kind EncryptionConfiguration, apiVersion apiserver.config.k8s.io/v1", kind,
                    api_version));
  const auto resources = root["resources"];
  if (!resources || !resources.IsSequence() || resources.size() == 0)
    return fail(invalid("resources", "Required value: resources is required"));
  EncryptionConfig config;
  for (std::size_t r = 0; r < resources.size(); ++r) {
    const auto path = fmt::format("resources[{}]", r);
    const auto names = resources[r]["resources"];
    if (!names || !names.IsSequence() || names.size() == 0)
      return fail(invalid(path + ".resources", "Required value: at least one resource must be specified"));
    auto chain = parse_providers(resources[r]["providers"], path + ".providers");
    if (!chain) return fail(chain.error());
    for (std::size_t n = 0; n < names.size(); ++n) {
      const auto name = names[n].as<std::string>("");
      const auto name_path = fmt::format("{}.resources[{}]", path, n);
      if (name.empty() || name.find('*') != std::string::npos)
        return fail(invalid(
            name_path,
            fmt::format("Unsupported value: \"{}\": name resources as RESOURCE or RESOURCE.GROUP; wildcards are not supported", name)));
      if (!config.emplace(name, *chain).second) return fail(invalid(name_path, fmt::format("Duplicate value: \"{}\"", name)));
    }
  }
  return config;
}

Result<EncryptionConfig> load_encryption_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(ErrorCode::NotFound, fmt::format("--encryption-provider-config {}: cannot read the file", path));
  const std::string text(std::istreambuf_iterator<char>(in), {});
  auto config = parse_encryption_config(text);
  if (!config) return fail(with_context(config.error(), fmt::format("--encryption-provider-config {}", path)));
  return config;
}

}  // namespace switchyard::store
