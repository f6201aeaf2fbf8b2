-- The dealflow language server for *.flow files, in Neovim.
-- Put editors/vim on the runtime path (for the filetype and syntax), then in init.lua:
--   dofile("/path/to/dealflow/editors/vim/lsp.lua")
-- Neovim 0.11 and later configure servers with vim.lsp.config; older ones (Debian 12 has 0.7)
-- start the server when a pipeline file opens.
local cmd = { vim.g.dealflow_path or "dealflow", "lsp" }

if vim.lsp.config and vim.lsp.enable then
  vim.lsp.config("dealflow", { cmd = cmd, filetypes = { "dealflow" }, root_markers = { ".git" } })
  vim.lsp.enable("dealflow")
  return
end

local client_id = nil
vim.api.nvim_create_autocmd("FileType", {
  pattern = "dealflow",
  callback = function(args)
    local root = vim.fn.fnamemodify(vim.api.nvim_buf_get_name(args.buf), ":p:h")
    if vim.lsp.start then
      vim.lsp.start({ name = "dealflow", cmd = cmd, root_dir = root })
      return
    end
    if client_id == nil or vim.lsp.get_client_by_id(client_id) == nil then
      client_id = vim.lsp.start_client({ name = "dealflow", cmd = cmd, root_dir = root })
    end
    if client_id then
      vim.lsp.buf_attach_client(args.buf, client_id)
    end
  end,
})
