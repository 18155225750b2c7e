// The HDF5 run file: written as it goes, resumable, readable by h5py.
import CHDF5
