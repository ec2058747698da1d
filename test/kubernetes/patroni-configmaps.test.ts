// Debian's real Patroni 3.0.2 on the Kubernetes API emulator, ConfigMaps (the default layout); see patroni-suite.ts.
import { patroniOnEmulator } from './patroni-suite.js';

patroniOnEmulator(false);
