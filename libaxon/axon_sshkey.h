/*
 * libaxon: the SSH public key of an SSH session, checked strictly.
 */

#ifndef AXON_SSHKEY_H
#define AXON_SSHKEY_H


#include <stddef.h>

#include "axon_eth.h"          /* AXON_OK, the error codes */


/*
 * line[0 .. len): "TYPE BASE64 [COMMENT]", one authorized_keys line with
 * no options.  AXON_OK, or AXON_ERR_SSH_KEY with *why saying what is wrong
 * (a static string for the user).
 */
int axon_ssh_key_check(const char *line, size_t len, const char **why);


#endif /* AXON_SSHKEY_H */
