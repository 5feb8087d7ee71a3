# Runs one e2e case: cmake -DBIN=luasniff -DMKPCAP=mkpcap -DSRC=<project source>
#   -DCASE=<case dir> -DWORK=<scratch dir> -P run_case.cmake
#
# A case directory holds:
#   packets.txt (and packets2.txt ...)  mkpcap input; each becomes <name>.pcap in WORK
#   script.lua     the script (copied into WORK, so messages say "script.lua:N:"),
#     or script    one line: a path relative to the source tree (scripts/x.lua),
#     or neither   the built-in summary runs
#   args           options before the script (default "-r packets.pcap"; when
#                  the file mentions -r, it lists the inputs itself)
#   scriptargs     arguments after the script
#   stdin          one line: a file in WORK fed to luasniff's standard input
#   after.sh       run with sh in WORK after luasniff ($LUASNIFF is the binary);
#                  its stdout is appended
#   expected.out   exact stdout
#   expected.err   lines that must each appear in stderr (substring; a line
#                  starting with "re:" is a CMake regex instead)
#   expected.rc    exit code (default 0)
# luasniff runs in WORK, which also gets a copy of events.lua for dofile().
cmake_minimum_required(VERSION 3.16)

foreach(v BIN MKPCAP SRC CASE WORK)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "run_case.cmake: -D${v}=... is required")
  endif()
endforeach()

get_filename_component(name "${CASE}" NAME)
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
file(COPY "${SRC}/tests/e2e/events.lua" DESTINATION "${WORK}")

# 1. Packet descriptions -> pcaps.
file(GLOB inputs "${CASE}/packets*.txt")
foreach(txt IN LISTS inputs)
  get_filename_component(stem "${txt}" NAME_WE)
  execute_process(COMMAND "${MKPCAP}" "${txt}" "${WORK}/${stem}.pcap"
    RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${name}: mkpcap failed (${rc}) on ${txt}:\n${err}")
  endif()
endforeach()

# 2. Command line.
set(args "")
if(EXISTS "${CASE}/args")
  file(READ "${CASE}/args" a)
  string(STRIP "${a}" a)
  separate_arguments(args UNIX_COMMAND "${a}")
endif()
if(NOT "-r" IN_LIST args)
  list(PREPEND args "-r" "packets.pcap")
endif()
if(EXISTS "${CASE}/script.lua")
  file(COPY "${CASE}/script.lua" DESTINATION "${WORK}")
  list(APPEND args "script.lua")
elseif(EXISTS "${CASE}/script")
  file(STRINGS "${CASE}/script" s LIMIT_COUNT 1)
  string(STRIP "${s}" s)
  list(APPEND args "${SRC}/${s}")
endif()
if(EXISTS "${CASE}/scriptargs")
  file(READ "${CASE}/scriptargs" a)
  string(STRIP "${a}" a)
  separate_arguments(sa UNIX_COMMAND "${a}")
  list(APPEND args ${sa})
endif()
set(input_opt "")
if(EXISTS "${CASE}/stdin")
  file(STRINGS "${CASE}/stdin" s LIMIT_COUNT 1)
  string(STRIP "${s}" s)
  set(input_opt INPUT_FILE "${WORK}/${s}")
endif()

# 3. Run.
string(REPLACE ";" " " shown "${args}")
message(STATUS "${name}: (cd ${WORK} && ${BIN} ${shown})")
execute_process(COMMAND "${BIN}" ${args} ${input_opt}
  WORKING_DIRECTORY "${WORK}"
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(EXISTS "${CASE}/after.sh")
  # after.sh may run luasniff again (on a file the run wrote): $LUASNIFF.
  execute_process(COMMAND "${CMAKE_COMMAND}" -E env "LUASNIFF=${BIN}" "LS_LUA_PATH=${SRC}/lua"
    sh "${CASE}/after.sh" WORKING_DIRECTORY "${WORK}"
    OUTPUT_VARIABLE after ERROR_VARIABLE after_err RESULT_VARIABLE after_rc)
  if(NOT after_rc EQUAL 0)
    message(FATAL_ERROR "${name}: after.sh failed (${after_rc}):\n${after_err}")
  endif()
  string(APPEND out "${after}")
endif()
file(WRITE "${WORK}/actual.out" "${out}")
file(WRITE "${WORK}/actual.err" "${err}")

# 4. Checks; collect every failure before giving up.
set(failures "")
set(want_rc 0)
if(EXISTS "${CASE}/expected.rc")
  file(STRINGS "${CASE}/expected.rc" want_rc LIMIT_COUNT 1)
  string(STRIP "${want_rc}" want_rc)
endif()
if(NOT "${rc}" STREQUAL "${want_rc}")
  string(APPEND failures "exit code: expected ${want_rc}, got ${rc}\n")
endif()

execute_process(COMMAND "${CMAKE_COMMAND}" -E compare_files
  "${CASE}/expected.out" "${WORK}/actual.out" RESULT_VARIABLE same)
if(NOT same EQUAL 0)
  execute_process(COMMAND diff -u "${CASE}/expected.out" "${WORK}/actual.out"
    OUTPUT_VARIABLE d)
  string(APPEND failures "stdout differs (--- expected, +++ actual):\n${d}\n")
endif()

if(EXISTS "${CASE}/expected.err")
  file(STRINGS "${CASE}/expected.err" lines)
  foreach(l IN LISTS lines)
    if(l MATCHES "^re:(.*)")
      if(NOT err MATCHES "${CMAKE_MATCH_1}")
        string(APPEND failures "stderr lacks a match for regex: ${CMAKE_MATCH_1}\n")
      endif()
    else()
      string(FIND "${err}" "${l}" at)
      if(at EQUAL -1)
        string(APPEND failures "stderr lacks: ${l}\n")
      endif()
    endif()
  endforeach()
endif()
# Whatever the case expects, sanitizer reports are failures.
if(err MATCHES "ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:")
  string(APPEND failures "sanitizer report in stderr\n")
endif()

if(failures)
  message(FATAL_ERROR "${name} FAILED\n${failures}--- stderr ---\n${err}")
endif()
message(STATUS "${name}: ok")
