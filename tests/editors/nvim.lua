-- Run by tests/editors.rs: Neovim, headless, with the repository's editors/vim files and LSP
-- snippet, opens a pipeline and asks the language server what an analyst's editor would.
-- Writes what it saw as JSON to $DEALFLOW_NVIM_OUT, then quits.
local root = os.getenv("DEALFLOW_ROOT")
vim.g.dealflow_path = os.getenv("DEALFLOW_BIN")
vim.opt.runtimepath:prepend(root .. "/editors/vim")
vim.cmd("filetype plugin on")
vim.cmd("syntax on")
dofile(root .. "/editors/vim/lsp.lua")

local out = {}
local function done()
  local f = io.open(os.getenv("DEALFLOW_NVIM_OUT"), "w")
  f:write(vim.fn.json_encode(out))
  f:close()
  vim.cmd("qall!")
end

vim.cmd("edit " .. os.getenv("DEALFLOW_FLOW"))
local buf = vim.api.nvim_get_current_buf()
out.filetype = vim.bo[buf].filetype

-- The syntax group of the first `stage` keyword.
local line = vim.fn.search("^stage ", "n")
out.syntax = vim.fn.synIDattr(vim.fn.synID(line, 1, 1), "name")

-- Wait for the server to attach and publish its diagnostics (the file has one mistake).
local ok = vim.wait(10000, function()
  return #vim.diagnostic.get(buf) > 0
end, 50)
out.attached = #vim.lsp.get_active_clients() > 0
out.diagnostics = {}
for _, d in ipairs(vim.diagnostic.get(buf)) do
  table.insert(out.diagnostics, { line = d.lnum, col = d.col, message = d.message, code = d.code })
end

-- Hover and definition at `meeting` in `-> meeting on call_done` (0-based line and column).
local target = vim.fn.search("-> meeting on", "n") - 1
local col = string.find(vim.api.nvim_buf_get_lines(buf, target, target + 1, false)[1], "meeting") - 1
local params = { textDocument = { uri = vim.uri_from_bufnr(buf) }, position = { line = target, character = col } }
local hover = vim.lsp.buf_request_sync(buf, "textDocument/hover", params, 5000) or {}
for _, r in pairs(hover) do
  if r.result then out.hover = r.result.contents.value end
end
local def = vim.lsp.buf_request_sync(buf, "textDocument/definition", params, 5000) or {}
for _, r in pairs(def) do
  if r.result then
    local loc = r.result[1] or r.result
    out.definition = loc.range.start.line
  end
end
out.waited = ok
done()
