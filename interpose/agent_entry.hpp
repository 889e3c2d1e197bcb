// The shim's single runtime instance. An LD_PRELOAD library has exactly one per process; every
// interposed function reaches it through agent_runtime() (nullptr until the constructor ran).
#pragma once
#include "agent/runtime.hpp"

namespace numa_agent::shim {
AgentRuntime* agent_runtime();
}
