// SPDX-License-Identifier: MIT
// AXGT, the axon GPU token, as deployed on the local chain: 18 decimals,
// minted by the deployer.
pragma solidity 0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

contract AXGT is ERC20, Ownable {
    constructor() ERC20("axon GPU token (test)", "AXGT") Ownable(msg.sender) {}

    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }
}
