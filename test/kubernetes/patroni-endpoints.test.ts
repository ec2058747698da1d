// Debian's real Patroni 3.0.2 on the Kubernetes API emulator, use_endpoints: true; see patroni-suite.ts.
import { patroniOnEmulator } from './patroni-suite.js';

patroniOnEmulator(true);
