// The launch page: sign in with a browser wallet (EIP-1193), see the
// prices and the balance, buy minutes (the wallet pays the revenue wallet
// on the gate's chain; the page submits the transaction and follows its
// confirmations), claim (a desktop, or an SSH shell where the worker offers
// it: "ssh" in the profiles), wait in line, use the desktop or see the ssh
// command, release; the wallet's deposits and usage.
// Plain JavaScript against the gate's JSON API; the token lives in the
// HttpOnly cookie verify-wallet sets, so every fetch here carries it.

'use strict';

const $ = (id) => document.getElementById(id);
const POLL_MS = 2000;
const HEARTBEAT_MS = 30000;
const BALANCE_MS = 10000;   // the balance read again while a session runs

let pollTimer = null;
let heartbeatTimer = null;
let lastSession = null;
let config = null;         // GET /api/config
let me = null;             // GET /api/me
let quotes = {};           // profile -> GET /api/quote for 60 minutes
let wrongChain = null;     // the wallet's chain id, when not the gate's
let buying = null;         // the payment being confirmed: {wallet, hash, symbol, submitted}
let depositTimer = null;
let following = false;     // followDeposit's turns go on
let frameLoads = null;     // noVNC's frame: since when it loads, reloads

// A request that fails or gets no answer within API_TIMEOUT_MS is status 0
// with an error the page shows, never an exception: the session poll and
// the heartbeat go on after a dropped connection instead of stopping.
const API_TIMEOUT_MS = 20000;

async function api(path, opts = {}) {
    let res;
    try {
        res = await fetch(path, {
            credentials: 'same-origin',
            headers: opts.body ? { 'content-type': 'application/json' } : {},
            signal: AbortSignal.timeout(API_TIMEOUT_MS),
            ...opts,
        });
    } catch (e) {
        return { status: 0, body: { error: { code: 'unreachable',
            message: `The gate did not answer (${e.name === 'TimeoutError' ? 'timed out' : e.message}); retrying.` } } };
    }
    let body = null;
    try { body = await res.json(); } catch { /* empty */ }
    return { status: res.status, body };
}

// what a person can act on, from the API's error codes
const MESSAGES = {
    insufficient_credits: e => (e.needed_minutes
        ? `This profile needs ${e.needed_minutes} credit minutes to start (the first minute`
          + (e.grace_minutes ? ` and ${e.grace_minutes} minutes of grace, billed if used` : '')
          + `); your balance is ${e.balance_minutes}: deposit first.`
        : 'Your balance does not pay for the first minute of this profile: deposit first.'),
    session_exists: 'You already have a session: release it before claiming another.',
    unknown_profile: 'That profile does not exist any more: reload the page.',
    ssh_disabled: 'SSH sessions are not offered here any more: reload the page.',
    worker_unavailable: 'The platform is starting up; try again in a moment.',
    redis_unavailable: 'The gate is briefly unavailable; try again in a moment.',
    rate_limited: 'Too many attempts: wait a second and try again.',
    wrong_signer: 'The signature is not from the connected account. Switch accounts in your wallet and retry.',
    expired: 'The sign-in request expired: try again.',
    unknown_nonce: 'That sign-in request was already used or expired: try again.',
    domain_mismatch: 'The wallet signed for another site.',
    chain_mismatch: 'Your wallet is on another network than this gate expects.',
};

function showError(e) {
    const code = e && e.error && e.error.code;
    const m = MESSAGES[code];
    const text = (typeof m === 'function' ? m(e.error) : m)
        || (e && e.error && e.error.message) || String(e && e.message || e);
    $('error').textContent = text;
    $('error').hidden = false;
}

function clearError() { $('error').hidden = true; }

function show(section, on) { $(section).hidden = !on; }

async function signIn() {
    clearError();
    const eth = window.ethereum;
    if (!eth) { $('nowallet').hidden = false; renderState(); return; }
    $('connect').disabled = true;
    try {
        const [address] = await eth.request({ method: 'eth_requestAccounts' });
        const c = await api(`/api/auth/challenge?address=${encodeURIComponent(address)}`);
        if (c.status !== 200) throw c.body;
        const hex = '0x' + Array.from(new TextEncoder().encode(c.body.message))
            .map((b) => b.toString(16).padStart(2, '0')).join('');
        const signature = await eth.request({ method: 'personal_sign', params: [hex, address] });
        const v = await api('/api/auth/verify-wallet', {
            method: 'POST',
            body: JSON.stringify({ message: c.body.message, signature }),
        });
        if (v.status !== 200) throw v.body;
        await refresh();
    } catch (e) {
        if (e && e.code === 4001) {
            $('error').textContent = 'You declined the signature in your wallet.';
            $('error').hidden = false;
        } else {
            showError(e);
        }
    } finally {
        $('connect').disabled = false;
    }
}

async function signOut() {
    await api('/api/auth/logout', { method: 'POST' });
    stopTimers();
    await refresh();
}

function stopTimers() {
    clearTimeout(pollTimer);
    clearInterval(heartbeatTimer);
    pollTimer = heartbeatTimer = null;
}

async function refresh() {
    const m = await api('/api/me');
    if (m.status === 401) {
        me = null;
        show('signin', true); show('account', false); show('session', false);
        $('who').textContent = ''; $('logout').hidden = true;
        renderState();
        return;
    }
    if (m.status !== 200) { showError(m.body); return; }
    me = m.body;

    show('signin', false); show('account', true);
    $('who').textContent = me.wallet;
    $('logout').hidden = false;
    showBalance(me.balance_minutes);
    showHome();

    if (!config || config.stale) await loadConfig();
    await loadQuotes();
    await checkChain();

    const p = await api('/api/profiles');
    renderProfiles(p.status === 200 ? p.body : null);
    if (p.status !== 200) showError(p.body);

    // the SSH option, where the operator offers it (worker: ssh_sessions)
    const ssh = p.status === 200 && p.body.ssh === true;
    $('ssh-option').hidden = !ssh;
    if (!ssh) document.querySelector('input[name="mode"][value="desktop"]').checked = true;
    showKeyRow();

    renderBuy();
    await Promise.all([loadDeposits(), loadUsage()]);
    await pollSession();

    // a payment of this wallet not seen through (a reload, a sign-out, the
    // gate unreachable when it was made): followed again, and sent to the
    // gate again until it takes it
    const w = me.wallet.toLowerCase();
    if (buying && buying.wallet !== w) buying = null;     // kept for its wallet
    const kept = buying || keptPayment(w);
    if (kept && kept.wallet === w && !following) {
        buying = kept;
        buyStatus(`Your payment ${kept.hash} is being followed again…`);
        followDeposit();
    }
}

function showBalance(minutes) {
    $('balance').textContent = minutes;
    if (me) me.balance_minutes = minutes;
}

// where the worker keeps the wallet's files between sessions (its home
// volume), and until when once no session uses it
function showHome() {
    const until = me && me.home_kept_until;
    $('home').hidden = !until;
    if (until) {
        $('home').textContent = `Your files (your home directory) are kept until ${new Date(until * 1000).toLocaleString()}; a new session finds them there.`;
    }
}

async function loadConfig() {
    const r = await api('/api/config');
    if (r.status === 200) config = r.body;
    return config;
}

// billing minutes in an hour (a billing minute is 60 s unless the operator
// set another), and the wall-clock minutes credit minutes pay at a rate
function hourMinutes() {
    return Math.ceil(3600 / ((config && config.billing_minute_s) || 60));
}

function wallMinutes(credit, rate) {
    return Math.floor(credit / rate) * ((config && config.billing_minute_s) || 60) / 60;
}

// An hour of each profile at the wallet's tier: the gate's own quote, so
// the page shows what a deposit will buy.  The first quote of a wallet may
// not know its tier yet (the worker reads it on chain): ask again shortly.
async function loadQuotes() {
    quotes = {};
    if (!config || !config.deposits) return;
    await Promise.all(config.profiles.map(async (p) => {
        const q = await api(`/api/quote?profile=${encodeURIComponent(p.name)}&minutes=${hourMinutes()}`);
        if (q.status === 200) quotes[p.name] = q.body;
    }));
    const any = Object.values(quotes)[0];
    $('discount').textContent = any && any.discount_pct
        ? `(your tier: ${any.discount_pct} % off every deposit)` : '';
    if (any && !any.tier_known && (loadQuotes.retries = (loadQuotes.retries || 0) + 1) <= 20) {
        clearTimeout(loadQuotes.timer);
        loadQuotes.timer = setTimeout(async () => { await loadQuotes(); renderProfiles(); renderBuy(); }, 3000);
    }
}

// the wallet's network against the gate's chain: null when it matches (or
// cannot be read)
async function checkChain() {
    wrongChain = null;
    const eth = window.ethereum;
    if (!eth || !config) return;
    try {
        const id = parseInt(await eth.request({ method: 'eth_chainId' }), 16);
        if (id !== config.chain.id) wrongChain = id;
    } catch { /* a wallet without eth_chainId: found out when paying */ }
}

function chainName() {
    return config.chain.name ? `${config.chain.name} (chain ${config.chain.id})` : `chain ${config.chain.id}`;
}

// "1.5 USDC": atomic units (a decimal string) in whole tokens
function units(amount, decimals, digits = 6) {
    const v = BigInt(amount);
    const scale = 10n ** BigInt(decimals);
    const whole = v / scale;
    let frac = (v % scale).toString().padStart(decimals, '0').slice(0, digits).replace(/0+$/, '');
    if (whole === 0n && !frac && v > 0n) frac = '0'.repeat(digits - 1) + '1';   // never "0" for a price
    return frac ? `${whole}.${frac}` : `${whole}`;
}

// "2.5" in atomic units of a token; null: not an amount
function parseUnits(text, decimals) {
    const m = /^\s*(\d*)(?:\.(\d*))?\s*$/.exec(text || '');
    if (!m || (!m[1] && !m[2]) || (m[2] || '').length > decimals) return null;
    return BigInt(m[1] || '0') * 10n ** BigInt(decimals) + BigInt((m[2] || '').padEnd(decimals, '0') || '0');
}

let lastProfiles = null;

function renderProfiles(published) {
    if (published) lastProfiles = published;
    const p = lastProfiles;
    const tbody = $('profiles').querySelector('tbody');
    tbody.replaceChildren();
    if (!p || !me) return;
    const byName = Object.fromEntries(((config && config.profiles) || []).map(x => [x.name, x]));
    for (const prof of p.profiles) {
        const tr = document.createElement('tr');
        const cost = prof.gpus * prof.price;
        // a claim holds the first minute and the grace's reserve
        const need = cost * (1 + (p.grace_minutes || 0));
        const q = quotes[prof.name];
        const perHour = q ? q.credit_minutes : cost * hourMinutes();
        const money = q ? q.prices.map(x => `${units(x.amount, x.decimals)} ${x.symbol}`).join(' · ') : '';
        const c = byName[prof.name] || {};
        const waiting = prof.queued ?? c.queued ?? 0;
        const cells = [prof.name, prof.gpus,
            `${perHour} credit minutes${money ? ` (${money})` : ''}`,
            `${p.pool ? p.pool.free : '–'} of ${p.pool ? p.pool.gpus : '–'}`,
            waiting ? `${waiting} waiting` : 'none'];
        for (const text of cells) {
            const td = document.createElement('td');
            td.textContent = text;
            tr.append(td);
        }
        const td = document.createElement('td');
        const b = document.createElement('button');
        b.textContent = 'Claim';
        b.disabled = me.balance_minutes < need;
        b.title = b.disabled ? (need > cost ? `a session needs ${need} credit minutes to start: the first minute and the grace`
                                            : 'not enough credit for the first minute') : '';
        b.onclick = () => claim(prof.name);
        td.append(b);
        tr.append(td);
        tbody.append(tr);
    }
}

function mode() {
    return $('ssh-option').hidden ? 'desktop' : document.querySelector('input[name="mode"]:checked').value;
}

function showKeyRow() { $('ssh-key-row').hidden = mode() !== 'ssh'; }

async function claim(profile) {
    clearError();
    const req = { profile };
    if (mode() === 'ssh') {
        const key = $('ssh-key').value.trim();
        if (!key) {
            showError({ error: { message: 'Paste your SSH public key first (the line of your ~/.ssh/id_ed25519.pub).' } });
            return;
        }
        req.mode = 'ssh';
        req.ssh_public_key = key;
    }
    const r = await api('/api/session', { method: 'POST', body: JSON.stringify(req) });
    if (r.status !== 202) { showError(r.body); return; }
    await pollSession();
}

function describe(s) {
    switch (s.status) {
    case 'queued':
        return `Waiting in line${s.position ? `, position ${s.position}` : ''}${s.reason ? `: ${s.reason}` : ''}${waitEstimate(s)}.`;
    case 'starting': return s.mode === 'ssh' ? 'Starting your SSH session…' : 'Starting your desktop…';
    case 'running': return `Running since ${new Date(s.started_at).toLocaleTimeString()}.`;
    case 'ending': return 'Stopping…';
    case 'ended':
        return `Ended${s.end_reason ? ` (${s.end_reason.replace(/_/g, ' ')})` : ''}; ` +
               `${s.billed_minutes ?? 0} minutes billed.`;
    default: return s.status;
    }
}

async function pollSession() {
    clearTimeout(pollTimer);
    const r = await api('/api/session');
    if (r.status === 404 || r.status === 401) {
        show('session', false);
        lastSession = null;
        renderState();
        return;
    }
    if (r.status !== 200) { showError(r.body); pollTimer = setTimeout(pollSession, POLL_MS * 2); return; }

    const s = r.body;
    show('session', true);
    $('session-id').textContent = `#${s.session_id}`;
    $('status').textContent = describe(s);
    $('leave').hidden = s.status !== 'queued';
    $('release').hidden = !['starting', 'running'].includes(s.status);
    $('open').hidden = s.status !== 'running' || s.mode === 'ssh';
    $('jupyter').hidden = $('open').hidden;

    const c = s.connect || {};
    const sshRunning = s.status === 'running' && s.mode === 'ssh' && c.port;
    $('ssh').hidden = !sshRunning;
    $('ssh-command').textContent = sshRunning
        ? `ssh -p ${c.port} -o StrictHostKeyChecking=accept-new ${c.user || 'aXonian'}@${c.host}` : '';

    const frame = $('desktop');
    if (s.status === 'running' && s.mode !== 'ssh') {
        if (frame.hidden) {
            const url = desktopUrl(s);
            $('open').href = url;
            $('jupyter').href = jupyterUrl(s);
            frame.src = url;
            frame.hidden = false;
            frameLoads = { since: Date.now(), reloads: 0 };
        } else {
            watchFrame(frame);
        }
        if (!heartbeatTimer) heartbeatTimer = setInterval(heartbeat, HEARTBEAT_MS);
    } else {
        frame.hidden = true;
        frame.removeAttribute('src');
        clearInterval(heartbeatTimer);
        heartbeatTimer = null;
    }

    // ended while this page watched: the balance the page showed may miss
    // the last minute billed between the release and the stop; read it again
    const justEnded = s.status === 'ended' && lastSession !== null
        && lastSession.session_id === s.session_id && lastSession.status !== 'ended';
    lastSession = s;
    // the balance, live while the session is billed
    if (s.status === 'running' && Date.now() - (pollSession.meAt || 0) > BALANCE_MS) {
        pollSession.meAt = Date.now();
        const [m, p] = await Promise.all([api('/api/me'), api('/api/profiles')]);
        if (m.status === 200) { showBalance(m.body.balance_minutes); me.home_kept_until = m.body.home_kept_until; }
        if (p.status === 200) renderProfiles(p.body);
    }
    warnLow(s);
    renderState();
    if (s.status !== 'ended') pollTimer = setTimeout(pollSession, POLL_MS);
    else if (justEnded) await refresh();
}

// noVNC shows its loading screen until every one of its ES modules has
// loaded; a module whose fetch failed (a connection dropped on the way)
// leaves it there for good, and noVNC reports nothing.  The frame is same
// origin: while it still loads after NOVNC_LOAD_MS, load it again, a few
// times, saying so in the console.
const NOVNC_LOAD_MS = 20000;
const NOVNC_RELOADS = 3;

function watchFrame(frame) {
    if (!frameLoads || frameLoads.reloads >= NOVNC_RELOADS) return;
    let loading;
    try {
        loading = frame.contentDocument.documentElement.classList.contains('noVNC_loading');
    } catch { return; }
    if (!loading || Date.now() - frameLoads.since < NOVNC_LOAD_MS) return;
    frameLoads.reloads++;
    frameLoads.since = Date.now();
    console.warn(`noVNC still loading after ${NOVNC_LOAD_MS / 1000} s: loading it again (${frameLoads.reloads} of ${NOVNC_RELOADS})`);
    frame.contentWindow.location.reload();
}

// noVNC, served by nginx (/novnc/: Debian's novnc package), connects its
// WebSocket to the session's container through the gate (connect.path,
// /desktop/, + websockify).  The session's VNC password (GET /api/session
// gives it to its owner only) goes in the fragment, which noVNC reads and
// the browser never sends to a server, so it is in no request line nor log.
function desktopUrl(s) {
    const base = (s.connect && s.connect.path) || '/desktop/';
    const path = encodeURIComponent(`${base.replace(/^\/+/, '')}websockify`);
    let url = `/novnc/vnc.html?autoconnect=1&resize=remote&reconnect=1&path=${path}`;
    if (s.connect && s.connect.password) {
        url += `#password=${encodeURIComponent(s.connect.password)}`;
    }
    return url;
}

// Jupyter in the desktop (the image's, behind the gate at connect.path +
// jupyter/): its token is the session's VNC password, in the query this
// once (Jupyter then keeps a cookie of its own)
function jupyterUrl(s) {
    const base = (s.connect && s.connect.path) || '/desktop/';
    const url = `${base}jupyter/tree`;
    return s.connect && s.connect.password
        ? `${url}?token=${encodeURIComponent(s.connect.password)}` : url;
}

async function heartbeat() {
    const r = await api('/api/session/heartbeat', { method: 'POST' });
    if (r.status !== 200) return;
    showBalance(r.body.balance_minutes);
    if (lastSession) lastSession.grace_until = r.body.grace_until;
    warnLow(lastSession);
    renderState();
}

async function release() {
    clearError();
    const r = await api('/api/release', { method: 'POST' });
    if (r.status !== 202) showError(r.body);
    await pollSession();
    await refresh();
}

async function leave() {
    const r = await api('/api/session/queue', { method: 'DELETE' });
    if (r.status !== 202) showError(r.body);
    await pollSession();
}

// ---- buying minutes ------------------------------------------------------

function selectedToken() {
    const sym = $('buy-token').value;
    return config && config.tokens.find(t => t.symbol === sym);
}

function discount() {
    const any = Object.values(quotes)[0];
    return any ? any.discount_pct : 0;
}

// the credit minutes an amount buys, as the worker credits it:
// floor(amount x minutes_per_token x 100 / (10^decimals x (100 - discount)))
function minutesFor(t, amount) {
    return amount * BigInt(t.minutes_per_token) * 100n
        / (10n ** BigInt(t.decimals) * BigInt(100 - discount()));
}

// the amount that buys at least m credit minutes (a quote's arithmetic)
function amountFor(t, m) {
    const num = m * 10n ** BigInt(t.decimals) * BigInt(100 - discount());
    const den = BigInt(t.minutes_per_token) * 100n;
    return (num + den - 1n) / den;
}

function renderBuy() {
    const on = !!(config && config.deposits && config.tokens.length);
    $('buy').hidden = !on;
    if (!on) return;
    const sel = $('buy-token');
    if (sel.options.length !== config.tokens.length) {
        sel.replaceChildren(...config.tokens.map(t => new Option(t.symbol, t.symbol)));
    }
    $('buy-how').textContent = `Your wallet pays ${config.revenue_wallet} on ${chainName()}; `
        + `the minutes are credited after ${config.confirmations} confirmations. `
        + `A whole token buys: ${config.tokens.map(t => `${t.symbol} ${t.minutes_per_token}`).join(', ')} credit minutes`
        + (discount() ? `, plus your ${discount()} % tier discount.` : '.');
    updateQuote('amount');
}

// the amount and the minutes fields follow each other
function updateQuote(from) {
    const t = selectedToken();
    if (!t) return;
    let amount = null;
    if (from === 'minutes') {
        const m = /^\s*\d+\s*$/.test($('buy-minutes').value) ? BigInt($('buy-minutes').value.trim()) : null;
        amount = m && m > 0n ? amountFor(t, m) : null;
        $('buy-amount').value = amount ? units(amount, t.decimals, t.decimals) : '';
    } else {
        amount = parseUnits($('buy-amount').value, t.decimals);
        $('buy-minutes').value = amount ? String(minutesFor(t, amount)) : '';
    }
    const small = lastProfiles && lastProfiles.profiles[0];
    const m = amount ? minutesFor(t, amount) : 0n;
    $('buy-quote').textContent = amount && m > 0n
        ? `${units(amount, t.decimals, t.decimals)} ${t.symbol} buys ${m} credit minutes`
          + (discount() ? ` (${discount()} % discount applied)` : '')
          + (small ? `: about ${hours(wallMinutes(Number(m), small.gpus * small.price))} of ${small.name}.` : '.')
        : '';
}

function hours(minutes) {
    const h = Math.floor(minutes / 60), m = Math.floor(minutes % 60);
    return h ? `${h} h ${m} min` : `${m} min`;
}

// what a wallet's refusal or failure means to a person; nothing was paid
function walletSays(e, what) {
    if (e && e.code === 4001) return `You declined ${what} in your wallet: nothing was paid.`;
    return `Your wallet could not ${what.replace(/^the /, 'make the ')} (${(e && e.message) || e}): nothing was paid.`;
}

function buyStatus(text) {
    $('buy-status').textContent = text;
    $('buy-status').hidden = !text;
}

// The wallet on the gate's chain: switch, or add the chain where the wallet
// does not know it (EIP-3085, error 4902), and check.
async function ensureChain(eth) {
    const want = '0x' + config.chain.id.toString(16);
    if (parseInt(await eth.request({ method: 'eth_chainId' }), 16) === config.chain.id) return true;
    try {
        await eth.request({ method: 'wallet_switchEthereumChain', params: [{ chainId: want }] });
    } catch (e) {
        if (e && e.code === 4902 && config.chain.rpc_url) {
            try {
                await eth.request({ method: 'wallet_addEthereumChain', params: [{
                    chainId: want, chainName: config.chain.name || `Chain ${config.chain.id}`,
                    rpcUrls: [config.chain.rpc_url],
                    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
                    ...(config.chain.explorer ? { blockExplorerUrls: [config.chain.explorer] } : {}),
                }] });
            } catch (e2) {
                showError({ error: { message: walletSays(e2, `adding ${chainName()}`) } });
                return false;
            }
        } else if (e && e.code === 4902) {
            showError({ error: { message: `Your wallet does not know ${chainName()}: add that network to it, then buy again. Nothing was paid.` } });
            return false;
        } else {
            showError({ error: { message: walletSays(e, `switching to ${chainName()}`) } });
            return false;
        }
    }
    const now = parseInt(await eth.request({ method: 'eth_chainId' }), 16);
    if (now !== config.chain.id) {
        showError({ error: { message: `Your wallet is still on chain ${now}, not ${chainName()}: nothing was paid.` } });
        return false;
    }
    wrongChain = null;
    return true;
}

const hex64 = (v) => BigInt(v).toString(16).padStart(64, '0');

async function walletBalance(eth, t, from) {
    if (t.address === 'ETH') return BigInt(await eth.request({ method: 'eth_getBalance', params: [from, 'latest'] }));
    const out = await eth.request({ method: 'eth_call', params: [{ to: t.address, data: '0x70a08231' + hex64(from) }, 'latest'] });
    return BigInt(out === '0x' ? 0 : out);
}

async function buy() {
    clearError();
    const eth = window.ethereum;
    const t = selectedToken();
    const amount = t && parseUnits($('buy-amount').value, t.decimals);
    if (!eth || !t) return;
    if (!amount || minutesFor(t, amount) < 1n) {
        showError({ error: { message: `Enter an amount of ${t.symbol} (or a number of credit minutes) to buy.` } });
        return;
    }
    $('buy-go').disabled = true;
    try {
        const [from] = await eth.request({ method: 'eth_requestAccounts' });
        if (from.toLowerCase() !== me.wallet.toLowerCase()) {
            showError({ error: { message: 'The wallet\'s account is not the one signed in here: switch accounts in your wallet, or sign in again. Nothing was paid.' } });
            return;
        }
        if (!await ensureChain(eth)) return;
        const have = await walletBalance(eth, t, from);
        if (have < amount) {
            showError({ error: { message: `Your wallet holds ${units(have, t.decimals)} ${t.symbol}: not enough to pay ${units(amount, t.decimals, t.decimals)} ${t.symbol}. Nothing was paid.` } });
            return;
        }
        // still signed in (not signed out in another tab, not expired):
        // a payment the gate cannot be told of would wait for an operator
        const who = await api('/api/me');
        if (who.status === 401 || (who.status === 200 && who.body.wallet.toLowerCase() !== from.toLowerCase())) {
            await refresh();
            showError({ error: { message: 'Your sign-in here has ended (signed out in another tab, or expired): sign in again. Nothing was paid.' } });
            return;
        }
        if (who.status !== 200) {
            showError({ error: { message: 'The gate did not answer, so nothing was paid: try again in a moment.' } });
            return;
        }
        const tx = t.address === 'ETH'
            ? { from, to: config.revenue_wallet, value: '0x' + amount.toString(16) }
            : { from, to: t.address, data: '0xa9059cbb' + hex64(config.revenue_wallet) + hex64(amount) };
        let hash;
        try {
            hash = await eth.request({ method: 'eth_sendTransaction', params: [tx] });
        } catch (e) {
            showError({ error: { message: walletSays(e, 'the payment') } });
            return;
        }
        buying = { wallet: from.toLowerCase(), hash: hash.toLowerCase(), symbol: t.symbol, submitted: false };
        keepPayment(buying);
        buyStatus(`Paid: transaction ${hash}. Waiting for the gate to see it…`);
        await followDeposit();
    } catch (e) {
        showError({ error: { message: walletSays(e, 'the payment') } });
    } finally {
        $('buy-go').disabled = false;
        renderState();
    }
}

// The payment being followed, kept in this browser until it is credited
// or refused: an ETH payment reaches the gate only by its hash sent from
// here (the worker's indexer finds token transfers on its own), so a lost
// answer, a reload or a sign-out must not lose it.  One a wallet.
const paymentKey = (wallet) => `axon:payment:${wallet}`;

function keptPayment(wallet) {
    try { return JSON.parse(localStorage.getItem(paymentKey(wallet))); } catch { return null; }
}

function keepPayment(b) {
    try { localStorage.setItem(paymentKey(b.wallet), JSON.stringify(b)); } catch { /* private mode: this tab only */ }
}

function dropPayment() {
    try { if (buying) localStorage.removeItem(paymentKey(buying.wallet)); } catch { /* void */ }
    buying = null;
}

// The payment's hash to the gate, until it takes it (202; again is
// harmless).  Returns false when the page is signed out meanwhile: the
// payment is kept, and sent again after the next sign-in.
async function submitDeposit() {
    if (!buying || buying.submitted) return true;
    const r = await api('/api/auth/verify-deposit', { method: 'POST', body: JSON.stringify({ tx_hash: buying.hash }) });
    if (r.status === 202) {
        buying.submitted = true;
        keepPayment(buying);
        return true;
    }
    if (r.status === 401) {
        await refresh();
        showError({ error: { message: `Your sign-in here has ended: sign in again with this wallet and your payment ${buying.hash} is sent to the gate again.` } });
        return false;
    }
    if (r.status === 400) {
        showError(r.body);
        dropPayment();
        return true;
    }
    // the gate unreachable or busy: the next turn sends it again
    showError(r.body);
    return true;
}

// the payment just made, live: confirmations n of N, then the minutes
async function followDeposit() {
    clearTimeout(depositTimer);
    following = true;
    const list = await submitDeposit() ? await loadDeposits() : [];
    // signed out meanwhile: kept, followed again after the next sign-in
    if (!buying || !me) {
        following = false;
        return;
    }
    const mine = list.filter(d => d.tx_hash === buying.hash && d.log_index !== undefined);
    const sub = list.find(d => d.tx_hash === buying.hash);
    const d = mine[0];
    if (d && d.status === 'credited') {
        buyStatus(`Credited: ${d.minutes} credit minutes` + (d.discount_pct ? ` (${d.discount_pct} % discount applied)` : '') + '.');
        dropPayment();
        following = false;
        await refresh();
        return;
    }
    if (d && d.status === 'confirming') {
        buyStatus(`Confirming: ${d.confirmations} of ${d.required} confirmations…`);
    } else if ((d && ['rejected', 'orphaned'].includes(d.status)) || (sub && sub.status === 'rejected')) {
        const x = d || sub;
        buyStatus('');
        showError({ error: { message: `That payment was not credited: ${(x.message || x.reason || x.status).replace(/_/g, ' ')}.` } });
        dropPayment();
        following = false;
        return;
    }
    depositTimer = setTimeout(followDeposit, POLL_MS);
}

async function loadDeposits() {
    const r = await api('/api/deposits');
    if (r.status === 401 && me) {
        // signed out meanwhile (another tab, expiry): say so, keep the payment
        await refresh();
        return [];
    }
    const list = r.status === 200 ? r.body.deposits : [];
    const tbody = $('deposits').querySelector('tbody');
    tbody.replaceChildren();
    for (const d of list) {
        const tok = config && config.tokens.find(t => t.symbol === d.symbol);
        const paid = d.amount && tok ? `${units(d.amount, tok.decimals, tok.decimals)} ${d.symbol}` : (d.symbol || '');
        const status = d.status === 'confirming' ? `confirming, ${d.confirmations} of ${d.required}`
            : d.status === 'credited' ? `credited${d.discount_pct ? `, ${d.discount_pct} % discount` : ''}`
            : d.status === 'submitted' ? 'sent, not seen yet'
            : `${d.status}${d.reason ? `: ${d.reason.replace(/_/g, ' ')}` : ''}`;
        row(tbody, [d.block_number ? `block ${d.block_number}` : '', d.tx_hash.slice(0, 10) + '…', paid, status,
                    d.status === 'credited' ? d.minutes : '']);
    }
    $('deposits-none').hidden = list.length > 0;
    return list;
}

async function loadUsage() {
    const r = await api('/api/usage');
    const list = r.status === 200 ? r.body.sessions : [];
    const tbody = $('usage').querySelector('tbody');
    tbody.replaceChildren();
    const price = Object.fromEntries(((lastProfiles && lastProfiles.profiles) || []).map(p => [p.name, p.price]));
    for (const u of list) {
        const when = (t) => t ? new Date(t).toLocaleString() : '';
        row(tbody, [`#${u.session_id}`, `${u.profile} (${u.gpus} GPU${u.gpus === 1 ? '' : 's'})`, when(u.started_at),
                    u.status === 'ended' ? when(u.ended_at) : u.status,
                    u.billed_minutes ?? 0,
                    price[u.profile] ? (u.billed_minutes ?? 0) * u.gpus * price[u.profile] : '']);
    }
    $('usage-none').hidden = list.length > 0;
}

function row(tbody, cells) {
    const tr = document.createElement('tr');
    for (const text of cells) {
        const td = document.createElement('td');
        td.textContent = text;
        tr.append(td);
    }
    tbody.append(tr);
}

// ---- what a person is at, and what to do next ---------------------------

function renderState() {
    $('state').textContent = stateSentence();
}

function stateSentence() {
    const s = lastSession && lastSession.status !== 'ended' ? lastSession : null;
    if (!window.ethereum) return 'No browser wallet here: install one (MetaMask, Rabby, Coinbase Wallet) and reload to sign in.';
    if (!me) return 'You are signed out: connect your wallet and sign in to see prices and buy minutes.';
    if (s && s.status === 'queued') {
        return `You are number ${s.position || '?'} in line for ${s.profile}${waitEstimate(s)}. Leave the queue to stop waiting; nothing is billed until it starts.`;
    }
    if (s && s.status === 'starting') return `Your ${s.mode === 'ssh' ? 'SSH session' : 'desktop'} is starting: this takes a minute; billing begins when it runs.`;
    if (s && s.status === 'running' && s.grace_until) {
        return `Your credit is used up: the session stops at ${new Date(s.grace_until).toLocaleTimeString()} unless you buy minutes below.`;
    }
    if (s && s.status === 'running') {
        return `Your ${s.mode === 'ssh' ? 'SSH session' : 'desktop'} is running: ${minutesLeft(s)}. Release it when you are done; billing stops then.`;
    }
    if (s && s.status === 'ending') return 'Your session is stopping.';
    if (wrongChain !== null && config) return `Your wallet is on another network (chain ${wrongChain}); buying minutes asks it to switch to ${chainName()}.`;
    if (buying) return 'Your payment is being confirmed: the minutes are credited after the last confirmation.';
    if (!me.balance_minutes) {
        const kept = me.home_kept_until
            ? ` Your files are kept until ${new Date(me.home_kept_until * 1000).toLocaleDateString()}.` : '';
        return ((config && config.deposits) ? 'You have no credit minutes: buy minutes below, then claim a profile.'
                                            : 'You have no credit minutes: ask the operator how to buy them.') + kept;
    }
    if (lastSession && lastSession.status === 'ended') {
        const kept = me.home_kept_until
            ? ` Your files are kept until ${new Date(me.home_kept_until * 1000).toLocaleDateString()}.` : '';
        return `Your last session ended${lastSession.end_reason ? ` (${lastSession.end_reason.replace(/_/g, ' ')})` : ''}: claim a profile to start another.${kept}`;
    }
    return 'Choose a profile and claim it: a desktop starts in about a minute.';
}

// wall-clock minutes the balance pays at this session's rate
function minutesLeft(s) {
    const prof = lastProfiles && lastProfiles.profiles.find(p => p.name === s.profile);
    const rate = prof ? prof.gpus * prof.price : (s.gpus || 1);
    const left = wallMinutes(me ? me.balance_minutes : 0, rate);
    return `about ${hours(left)} of credit left at ${rate * hourMinutes()} credit minutes an hour`;
}

function waitEstimate(s) {
    const c = config && config.profiles.find(p => p.name === s.profile);
    const pool = (lastProfiles && lastProfiles.pool && lastProfiles.pool.gpus) || 0;
    if (!c || !c.typical_minutes || !pool || !s.position) return '; no estimate of the wait yet';
    const m = Math.ceil(s.position * wallMinutes(c.typical_minutes, 1) * c.gpus / pool);
    return `; estimated wait about ${hours(m)} (from recent sessions' lengths)`;
}

const LOW_LEFT = 5;     // wall-clock minutes: warn before the credit runs out

function warnLow(s) {
    const w = $('warning');
    if (s && s.status === 'running' && s.grace_until) {
        w.textContent = `Your credit is used up: the session stops at ${new Date(s.grace_until).toLocaleTimeString()} unless you buy minutes below.`;
        w.hidden = false;
        return;
    }
    const prof = s && lastProfiles && lastProfiles.profiles.find(p => p.name === s.profile);
    const rate = prof ? prof.gpus * prof.price : 1;
    const left = me ? wallMinutes(me.balance_minutes, rate) : 0;
    if (s && s.status === 'running' && me && left < LOW_LEFT) {
        w.textContent = `Low credit: about ${hours(left)} left on this profile. Buy more below: the desktop keeps running.`;
        w.hidden = false;
    } else {
        w.hidden = true;
    }
}

$('connect').onclick = signIn;
$('logout').onclick = signOut;
$('release').onclick = release;
$('leave').onclick = leave;
$('buy-go').onclick = buy;
$('buy-token').onchange = () => updateQuote('amount');
$('buy-amount').oninput = () => updateQuote('amount');
$('buy-minutes').oninput = () => updateQuote('minutes');
for (const r of document.querySelectorAll('input[name="mode"]')) r.onchange = showKeyRow;
if (window.ethereum && window.ethereum.on) {
    window.ethereum.on('accountsChanged', () => signOut());
    window.ethereum.on('chainChanged', async () => { await checkChain(); renderState(); });
}
refresh().catch(showError);
