/*
 * axon-worker: the wallets' home volumes (home.c): how long each is kept,
 * the sweep that removes the old ones, home_until in axon:wallet:ADDR,
 * and the admin job home.delete (its handler is in job.h).
 */

#ifndef AW_HOME_H
#define AW_HOME_H


#include "core.h"


/* the sweep, from the scheduler (sessions on), every aw_home_interval() */
int aw_home_sweep(void);
aw_msec_t aw_home_interval(void);

/* a session of the wallet runs: its home is kept, no date */
void aw_home_started(const char *wallet);

/* a session's container was stopped and its row ended: publish until
 * when its wallet's home is kept */
void aw_home_ended(int64_t session);

/* axon:wallet:ADDR home_until: until (unix seconds), or NULL: removed */
int aw_home_publish(const char *wallet, const char *until);


#endif /* AW_HOME_H */
