"""Papers for agents (issue #16): an MCP server over stdio (`papertrend mcp`) and Streamable HTTP (/mcp)."""
