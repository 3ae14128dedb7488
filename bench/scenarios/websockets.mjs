export async function runWebSockets() { console.log('h: not yet'); return []; }
