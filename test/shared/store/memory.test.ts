import { describe } from 'vitest';
import { openStore } from '../../../shared/store/index.ts';
import { storeContract } from './contract.ts';

describe('memory store: contract', () => {
  storeContract(async () => {
    const store = await openStore('memory:');
    // One object per backend: "another" store on the same backend is the same object.
    return { store, another: async () => store };
  });
});
