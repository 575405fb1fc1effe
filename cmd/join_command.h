// `switchyard join` (join_command.cpp): this host becomes a node of a cluster `up` started.
#pragma once

#include <functional>

namespace CLI {
class App;
}

namespace switchyard::cmd {

void register_join(CLI::App& app, std::function<int()>& run);

}  // namespace switchyard::cmd
