# Sanitizers as an INTERFACE target: everything weft builds links weft_sanitize, and nothing
# else's flags are touched.
add_library(weft_sanitize INTERFACE)
if(WEFT_SANITIZE STREQUAL "thread")
	if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
		message(WARNING "WEFT_SANITIZE=thread is meant for clang (CC=clang)")
	endif()
	target_compile_options(weft_sanitize INTERFACE -fsanitize=thread -fno-omit-frame-pointer)
	target_link_options(weft_sanitize INTERFACE -fsanitize=thread)
	target_compile_definitions(weft_sanitize INTERFACE WEFT_TSAN=1)
elseif(WEFT_SANITIZE STREQUAL "address")
	target_compile_options(weft_sanitize INTERFACE -fsanitize=address,undefined
		-fno-sanitize-recover=all -fno-omit-frame-pointer)
	target_link_options(weft_sanitize INTERFACE -fsanitize=address,undefined
		-fno-sanitize-recover=all)
	target_compile_definitions(weft_sanitize INTERFACE WEFT_ASAN=1)
elseif(NOT WEFT_SANITIZE STREQUAL "")
	message(FATAL_ERROR "WEFT_SANITIZE must be '', 'thread' or 'address', not '${WEFT_SANITIZE}'")
endif()
