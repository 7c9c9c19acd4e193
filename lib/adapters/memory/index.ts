export { MemoryCounterStore } from './counter-store.js';
export { MemoryObjectStore } from './object-store.js';
