// SPDX-License-Identifier: MIT
// The read-only part of Multicall3 (mds1/multicall, deployed at
// 0xcA11bde05977b3631167028862bE2a173976CA11 on nearly every EVM chain)
// for the local chain: tryAggregate, aggregate3 and blockAndAggregate's
// siblings that tools call through eth_call.  The x402 SDK's facilitator
// diagnoses a failed EIP-3009 simulation with tryAggregate (nonce already
// used, insufficient balance, ...); viem's multicall uses aggregate3.
// chain/deploy.mjs deploys it and copies its code to the canonical address
// (evm_setAccountCode).  Never deployed to a real network.
pragma solidity 0.8.24;

contract Multicall3 {
    struct Call {
        address target;
        bytes callData;
    }

    struct Call3 {
        address target;
        bool allowFailure;
        bytes callData;
    }

    struct Result {
        bool success;
        bytes returnData;
    }

    function tryAggregate(bool requireSuccess, Call[] calldata calls)
        public payable returns (Result[] memory returnData)
    {
        returnData = new Result[](calls.length);
        for (uint256 i = 0; i < calls.length; i++) {
            (bool success, bytes memory ret) = calls[i].target.call(calls[i].callData);
            if (requireSuccess) require(success, "Multicall3: call failed");
            returnData[i] = Result(success, ret);
        }
    }

    function aggregate3(Call3[] calldata calls) public payable returns (Result[] memory returnData) {
        returnData = new Result[](calls.length);
        for (uint256 i = 0; i < calls.length; i++) {
            (bool success, bytes memory ret) = calls[i].target.call(calls[i].callData);
            require(success || calls[i].allowFailure, "Multicall3: call failed");
            returnData[i] = Result(success, ret);
        }
    }

    function getBlockNumber() public view returns (uint256) {
        return block.number;
    }

    function getCurrentBlockTimestamp() public view returns (uint256) {
        return block.timestamp;
    }

    function getChainId() public view returns (uint256) {
        return block.chainid;
    }

    function getEthBalance(address addr) public view returns (uint256) {
        return addr.balance;
    }
}
