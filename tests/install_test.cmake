# cmake --install into a temporary prefix, then the installed program on the installed mock model,
# its man page and its bash completion. Run by ctest: -DBUILD=<build dir> -DWORK=<scratch dir>.
cmake_minimum_required(VERSION 3.18)
set(prefix ${WORK}/prefix)
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK}/run)

function(expect_match what text pattern)
  if(NOT text MATCHES "${pattern}")
    message(FATAL_ERROR "${what}: expected '${pattern}' in:\n${text}")
  endif()
endfunction()

execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD} --prefix ${prefix} RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install failed (${rc})")
endif()
foreach(f bin/pdr_run share/pdr_run/default.yaml share/pdr_run/config/sqlite.yaml share/pdr_run/mock_base/mockpdr
          share/pdr_run/mock_base/templates/pdr_config.json.template share/man/man1/pdr_run.1
          share/bash-completion/completions/pdr_run)
  if(NOT EXISTS ${prefix}/${f})
    message(FATAL_ERROR "not installed: ${prefix}/${f}")
  endif()
endforeach()

execute_process(COMMAND ${prefix}/bin/pdr_run --version RESULT_VARIABLE rc OUTPUT_VARIABLE out)
expect_match("--version" "${out}" "^pdr_run [0-9]+\\.[0-9]+\\.[0-9]+ \\(git ")

# The installed program runs a grid on the installed mock, from a directory of its own.
execute_process(COMMAND ${CMAKE_COMMAND} -E env PDR_BASE_DIR=${prefix}/share/pdr_run/mock_base
                        ${prefix}/bin/pdr_run --model-name installed --dens 30 40
                WORKING_DIRECTORY ${WORK}/run RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the installed pdr_run failed (${rc}):\n${out}\n${err}")
endif()
expect_match("installed run" "${out}" "model installed: 2 points; 2 finished, 0 failed")

file(READ ${prefix}/share/man/man1/pdr_run.1 man)
expect_match("man page" "${man}" "\\.SH")
expect_match("man page" "${man}" "model\\\\-name")

# Completion: a subcommand from its first letters, and that subcommand's own flags.
string(CONCAT script "source ${prefix}/share/bash-completion/completions/pdr_run\n"
           "COMP_WORDS=(${prefix}/bin/pdr_run sta); COMP_CWORD=1; _pdr_run; echo \"A:\${COMPREPLY[*]}\"\n"
           "COMP_WORDS=(${prefix}/bin/pdr_run status --rec); COMP_CWORD=2; _pdr_run; echo \"B:\${COMPREPLY[*]}\"\n")
file(WRITE ${WORK}/complete.sh "${script}")
execute_process(COMMAND bash ${WORK}/complete.sh RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
expect_match("completion of a subcommand" "${out}" "A:status\n")
expect_match("completion of a flag" "${out}" "B:--recount\n")
