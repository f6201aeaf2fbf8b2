" Vim syntax file
" Language: dealflow pipeline (*.flow)

if exists("b:current_syntax")
  finish
endif

syn iskeyword @,48-57,_,192-255

syn keyword dealflowDeclaration pipeline calendar role fields event template stage phase alert migrate
syn keyword dealflowControl on after at when
syn keyword dealflowOperatorWord and or not in is
syn keyword dealflowBoolean true false
syn keyword dealflowKeyword timezone currency country maps script notify hook workweek hours holidays list of
syn keyword dealflowKeyword sms email telegram subject body attach require skip task group spawn deal for each
syn keyword dealflowKeyword via with to due estimate set field required personal default enter exit join final as end
syn match dealflowFieldType ":\s*\zs\(text\|int\|decimal\|money\|bool\|date\|datetime\|phone\|email\|telegram\|url\|user\)\>"

syn match dealflowDateTime "\<\d\{4}-\d\{2}-\d\{2}\(T\d\{1,2}:\d\{2}\(:\d\{2}\)\=\)\="
syn match dealflowDateTime "\<\d\{1,2}:\d\{2}\(:\d\{2}\)\=\>"
syn match dealflowNumber "\<\d\+\(\.\d\+\)\=\>"
syn match dealflowDuration "\<\d\+[ \t]*\(workdays\=\|workhours\=\|m\|h\|d\|w\)\>"
syn match dealflowArrow "->"

syn match dealflowEscape "\\[nt\"\\{]" contained
syn region dealflowInterpolation matchgroup=dealflowInterpolationDelimiter start="{{" end="}}" contained contains=dealflowString,dealflowNumber,dealflowDateTime,dealflowDuration,dealflowOperatorWord,dealflowBoolean
syn region dealflowTripleString start=+"""+ end=+"""+ contains=dealflowEscape,dealflowInterpolation
syn region dealflowString start=+"+ skip=+\\"+ end=+"\|$+ oneline contains=dealflowEscape,dealflowInterpolation

syn match dealflowComment "#.*$" contains=@Spell

hi def link dealflowDeclaration Structure
hi def link dealflowControl Conditional
hi def link dealflowOperatorWord Operator
hi def link dealflowBoolean Boolean
hi def link dealflowKeyword Keyword
hi def link dealflowFieldType Type
hi def link dealflowDateTime Constant
hi def link dealflowNumber Number
hi def link dealflowDuration Number
hi def link dealflowArrow Operator
hi def link dealflowEscape SpecialChar
hi def link dealflowInterpolationDelimiter Delimiter
hi def link dealflowTripleString String
hi def link dealflowString String
hi def link dealflowComment Comment

let b:current_syntax = "dealflow"
