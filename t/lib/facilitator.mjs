// A local x402 facilitator for the tests, built from the SDK's own code:
// @x402/core's x402Facilitator with @x402/evm's exact EVM scheme, settling
// on the stack's chain from a gas wallet, behind the HTTP API the SDK's
// HTTPFacilitatorClient speaks (docs/x402.md, "4. Settlement"):
//
//   POST /verify    {x402Version, paymentPayload, paymentRequirements}
//                   -> 200 {isValid, invalidReason?, invalidMessage?, payer?}
//   POST /settle    the same -> 200 {success, errorReason?, transaction, network, payer?}
//   GET  /supported -> {kinds, extensions, signers}
//
// A body that is not such JSON -> 400 {error}.  f.requests lists what came
// in ({method, path, body}); f.stop() and f.start() again (same port) act
// a facilitator that is down and comes back.
//
//   const f = await new Facilitator({ rpcUrl, chainId, privateKey }).start();
//   f.url   // http://127.0.0.1:PORT

import { createServer } from 'node:http';
import { createWalletClient, defineChain, http, publicActions } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { x402Facilitator } from '@x402/core/facilitator';
import { registerExactEvmScheme } from '@x402/evm/exact/facilitator';
import { toFacilitatorEvmSigner } from '@x402/evm';

export class Facilitator {
    constructor({ rpcUrl, chainId, privateKey }) {
        const chain = defineChain({ id: chainId, name: `chain ${chainId}`,
            nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
            rpcUrls: { default: { http: [rpcUrl] } } });
        const account = privateKeyToAccount(privateKey);
        const w = createWalletClient({ account, chain, transport: http(rpcUrl) }).extend(publicActions);
        this.address = account.address;
        this.network = `eip155:${chainId}`;
        this.x402 = new x402Facilitator();
        registerExactEvmScheme(this.x402, {
            signer: toFacilitatorEvmSigner({
                address: account.address,
                readContract: a => w.readContract(a),
                verifyTypedData: a => w.verifyTypedData(a),
                writeContract: a => w.writeContract(a),
                sendTransaction: a => w.sendTransaction(a),
                waitForTransactionReceipt: a => w.waitForTransactionReceipt({ ...a, pollingInterval: 50 }),
                getCode: a => w.getCode(a),
            }),
            networks: this.network,
        });
        this.requests = [];
        this.port = 0;
    }

    get url() { return `http://127.0.0.1:${this.port}`; }

    async start() {
        this.server = createServer((req, res) => this.handle(req, res).catch((e) => {
            res.writeHead(500, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ error: String(e?.message ?? e) }));
        }));
        await new Promise((ok, fail) => {
            this.server.once('error', fail);
            this.server.listen(this.port, '127.0.0.1', ok);
        });
        this.port = this.server.address().port;
        return this;
    }

    async stop() {
        if (!this.server) return;
        this.server.closeAllConnections?.();
        await new Promise(ok => this.server.close(ok));
        this.server = null;
    }

    async handle(req, res) {
        let text = '';
        for await (const chunk of req) text += chunk;
        const path = new URL(req.url, 'http://x').pathname;
        const answer = (status, obj) => {
            res.writeHead(status, { 'content-type': 'application/json' });
            res.end(JSON.stringify(obj));
        };

        if (req.method === 'GET' && path === '/supported') {
            this.requests.push({ method: req.method, path });
            return answer(200, this.x402.getSupported());
        }
        if (req.method !== 'POST' || (path !== '/verify' && path !== '/settle')) {
            return answer(404, { error: `no ${req.method} ${path}` });
        }

        let body;
        try {
            body = JSON.parse(text);
        } catch {
            return answer(400, { error: 'the body is not JSON' });
        }
        this.requests.push({ method: req.method, path, body });
        const { paymentPayload, paymentRequirements } = body ?? {};
        if (typeof paymentPayload !== 'object' || typeof paymentRequirements !== 'object'
            || !paymentPayload || !paymentRequirements) {
            return answer(400, { error: 'paymentPayload and paymentRequirements are required' });
        }
        return answer(200, path === '/verify'
            ? await this.x402.verify(paymentPayload, paymentRequirements)
            : await this.x402.settle(paymentPayload, paymentRequirements));
    }
}
