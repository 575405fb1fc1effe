// The `switchyard` subcommands. Each registers its flags on the app and runs when chosen.
#pragma once

#include <chrono>
#include <functional>
#include <string>

namespace CLI {
class App;
}

namespace switchyard::cmd {

// Registers a subcommand; `run` is set to the code to execute when it is chosen.
void register_validate(CLI::App& app, std::function<int()>& run);
void register_dns(CLI::App& app, std::function<int()>& run);
void register_apiserver(CLI::App& app, std::function<int()>& run);
void register_agent(CLI::App& app, std::function<int()>& run);
void register_up(CLI::App& app, std::function<int()>& run);
void register_status(CLI::App& app, std::function<int()>& run);
void register_images(CLI::App& app, std::function<int()>& run);
void register_kubelet(CLI::App& app, std::function<int()>& run);
void register_scheduler(CLI::App& app, std::function<int()>& run);
void register_controller_manager(CLI::App& app, std::function<int()>& run);

// --master, as kube-proxy's and kube-controller-manager's: it overrides the kubeconfig's server,
// here with one or more (a client moves on to the next when one cannot be reached).
inline constexpr const char* kMasterFlagHelp =
    "the API server(s), overriding the kubeconfig's: https://HOST:PORT, or several comma-separated (same CA and credentials), "
    "used in turn when one cannot be reached";

// The kubelet's `--endpoint-handoff-delay` (a Go duration), for `kubelet` and `up`; the parsed
// value once the flags are checked.
void add_endpoint_handoff_flag(CLI::App* sub, std::string& text);
std::chrono::milliseconds endpoint_handoff_delay(const std::string& text);

}  // namespace switchyard::cmd
