" dealflow pipeline files: comments start with #, indent by two spaces.
setlocal commentstring=#\ %s comments=:#
setlocal shiftwidth=2 softtabstop=2 expandtab
let b:undo_ftplugin = "setlocal commentstring< comments< shiftwidth< softtabstop< expandtab<"
