" dealflow pipeline files
autocmd BufRead,BufNewFile *.flow setfiletype dealflow
