-- Neovim (0.11 or later): the dealflow language server for *.flow files.
-- Put this folder on your runtimepath (for the filetype and syntax), then in init.lua:
--   dofile("/path/to/dealflow/editors/vim/lsp.lua")
vim.lsp.config("dealflow", {
  cmd = { "dealflow", "lsp" },
  filetypes = { "dealflow" },
  root_markers = { ".git" },
})
vim.lsp.enable("dealflow")
