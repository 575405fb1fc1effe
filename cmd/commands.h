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

// The kubelet's `--endpoint-handoff-delay` (a Go duration), for `kubelet` and `up`; the parsed
// value once the flags are checked.
void add_endpoint_handoff_flag(CLI::App* sub, std::string& text);
std::chrono::milliseconds endpoint_handoff_delay(const std::string& text);

}  // namespace switchyard::cmd
